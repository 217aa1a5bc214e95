"""Searching the messages of a mailbox: a tree of store.search criteria
runs as one SQL query over the index, where flags, keywords, UIDs, sizes
and dates are columns. Criteria on message text (headers, body) are evaluated by a SQL function
that reads and parses a message file only for rows that the cheaper
criteria of the same conjunction did not already exclude. Criteria on
address fields use the envelope stored with each message, so they match
exactly the names and addresses that IMAP's ENVELOPE reports.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from email import policy
from email.parser import BytesParser

from ...message import part as partlib
from ...message.parse import decode_words
from .. import flags as flaglib
from .. import dialect
from ..db import Database
from ..search import AddressField, And, Criteria, Flag, ModSeq, Not, Or, Received, Sent, Size, Text, UIDRanges


def _day_start(day: date) -> float:
    return time.mktime(datetime(day.year, day.month, day.day).timetuple())


class _Compiler:
    def __init__(self, engine: str = dialect.SQLITE, decided: dict[int, list[int]] | None = None):
        """engine: the SQL dialect; decided: for PostgreSQL, which has no Python functions in SQL, the ids of
        the messages matching each text criterion (by id() of the node), found beforehand."""
        self.params: list = []
        self.dialect = engine  # read by the dialect helpers
        self.decided = decided

    def sql(self, node: Criteria) -> str:
        if isinstance(node, And):
            if not node.items:
                return dialect.boolean(self, True)
            # Text criteria last: SQLite evaluates an AND from left to right, so files are read only when needed.
            items = sorted(node.items, key=_has_text)
            return _balanced("and", [self.sql(i) for i in items])
        if isinstance(node, Or):
            return f"({self.sql(node.a)} or {self.sql(node.b)})"
        if isinstance(node, Not):
            return f"(not {self.sql(node.a)})"
        if isinstance(node, Flag):
            lower = node.name.lower()
            if lower in flaglib.BIT:
                self.params.append(flaglib.BIT[lower])
                test = "(flags & ? != 0)"
            else:
                self.params.append(json.dumps(lower))  # keywords are stored as a JSON list of lower-case atoms
                test = f"({dialect.instr(self)}(keywords, ?) > 0)"
            return test if node.present else f"(not {test})"
        if isinstance(node, UIDRanges):
            if not node.ranges:
                return dialect.boolean(self, False)
            if len(node.ranges) > 8 and self.dialect == dialect.POSTGRESQL:
                self.params += [[low for low, _ in node.ranges], [high for _, high in node.ranges]]
                return ("(exists (select 1 from unnest(?::bigint[], ?::bigint[]) as r(low, high)"
                        " where uid between r.low and r.high))")
            if len(node.ranges) > 8:
                # Many ranges as one JSON parameter: SQLite limits both the parameters and the expression depth.
                self.params.append(json.dumps(node.ranges))
                return ("(exists (select 1 from json_each(?) r"
                        " where uid between json_extract(r.value, '$[0]') and json_extract(r.value, '$[1]')))")
            parts = []
            for low, high in node.ranges:
                self.params += [low, high]
                parts.append("uid between ? and ?")
            return "(" + " or ".join(parts) + ")"
        if isinstance(node, ModSeq):
            self.params.append(node.at_least)
            return "(modseq >= ?)"
        if isinstance(node, Size):
            self.params.append(node.octets)
            return "(size > ?)" if node.larger else "(size < ?)"
        if isinstance(node, Received):
            if node.relation in ("older", "younger"):
                self.params.append(time.time() - node.seconds)
                return "(received <= ?)" if node.relation == "older" else "(received >= ?)"
            return self._day("received", node.relation, node.day)
        if isinstance(node, Sent):
            self.params.append(node.day.toordinal())
            operator = {"before": "<", "on": "=", "since": ">="}[node.relation]
            return f"(sent_day is not null and sent_day {operator} ?)"
        if isinstance(node, (AddressField, Text)) and self.decided is not None:
            condition, ids = dialect.in_list(self, "id", self.decided[id(node)])
            self.params.append(ids)
            return f"({condition})"
        if isinstance(node, AddressField):
            self.params += [node.field, node.value]
            return ("(mox_address_match(id, path, (select data from message_parts p where p.message_id = messages.id),"
                    " ?, ?))")
        if isinstance(node, Text):
            self.params += [node.where, node.name, node.value]
            return "(mox_text_match(id, path, ?, ?, ?))"
        raise TypeError(f"unknown search criterion {node!r}")

    def _day(self, column: str, relation: str, day: date) -> str:
        start = _day_start(day)
        end = _day_start(day + timedelta(days=1))
        if relation == "before":
            self.params.append(start)
            return f"({column} < ?)"
        if relation == "on":
            self.params += [start, end]
            return f"({column} >= ? and {column} < ?)"
        self.params.append(start)
        return f"({column} >= ?)"


def _balanced(operator: str, parts: list[str]) -> str:
    """Parts joined by operator, in order, as a balanced tree: SQLite limits an expression's depth
    (1000), and a flat chain of n terms is n deep."""
    if len(parts) == 1:
        return "(" + parts[0] + ")"
    middle = len(parts) // 2
    return f"({_balanced(operator, parts[:middle])} {operator} {_balanced(operator, parts[middle:])})"


def _has_text(node) -> bool:
    if isinstance(node, (Text, AddressField)):
        return True
    if isinstance(node, And):
        return any(_has_text(i) for i in node.items)
    if isinstance(node, Or):
        return _has_text(node.a) or _has_text(node.b)
    if isinstance(node, Not):
        return _has_text(node.a)
    return False


_parser = BytesParser(policy=policy.default)


class TextMatcher:
    """The SQL function mox_text_match of one search: reads and parses each message file at most once."""

    def __init__(self, read: Callable[[int, str], bytes]):
        """read(message id, path): the message's bytes (Account's storage of them)."""
        self.read = read
        self._cache: dict[int, object] = {}

    def _message(self, msg_id: int, path: str):
        msg = self._cache.get(msg_id)
        if msg is None:
            try:
                msg = _parser.parsebytes(self.read(msg_id, path))
            except Exception:
                msg = False
            if len(self._cache) > 64:
                self._cache.clear()
            self._cache[msg_id] = msg
        return msg

    def addresses(self, msg_id: int, path: str, parts: bytes | None, field: str, value: str) -> bool:
        """The SQL function mox_address_match, over the envelope stored with the message."""
        try:
            root = partlib.decode(parts) if parts else partlib.parse(self.read(msg_id, path))
        except Exception:
            return False
        env = root.envelope or partlib.Envelope()
        addresses = {"from": env.from_, "to": env.to, "cc": env.cc, "bcc": env.bcc}[field]
        needle = value.casefold()
        if not needle:
            return any(a.mailbox or a.host for a in addresses)
        for a in addresses:
            address = f"{a.mailbox}@{a.host}" if a.host else a.mailbox
            name = decode_words(a.name)
            if any(needle in text.casefold() for text in (name, a.name, address, f"{name} <{address}>")):
                return True
        return False

    def __call__(self, msg_id: int, path: str, where: str, name: str, value: str) -> bool:
        msg = self._message(msg_id, path)
        if not msg:
            return False
        needle = value.casefold()
        if where == "header":
            values = _header_values(msg, name)
            return bool(values) if not needle else any(needle in v.casefold() for v in values)
        if where in ("text",) and any(needle in f"{k}: {v}".casefold() for k, v in _header_items(msg)):
            return True
        return any(needle in text.casefold() for text in _body_texts(msg))


def _header_values(msg, name: str) -> list[str]:
    try:
        return [str(v) for v in msg.get_all(name) or []]
    except Exception:
        return [str(v) for k, v in msg.raw_items() if k.lower() == name.lower()]


def _header_items(msg) -> list[tuple[str, str]]:
    try:
        return [(k, str(v)) for k, v in msg.items()]
    except Exception:
        return list(msg.raw_items())


def _body_texts(msg):
    for part in msg.walk():
        if part.is_multipart() or part.get_content_maintype() != "text":
            continue
        try:
            yield part.get_content()
        except Exception:
            payload = part.get_payload(decode=True) or b""
            yield payload.decode("utf-8", "replace")


def _text_nodes(node) -> list:
    if isinstance(node, (Text, AddressField)):
        return [node]
    if isinstance(node, And):
        return [t for i in node.items for t in _text_nodes(i)]
    if isinstance(node, Or):
        return _text_nodes(node.a) + _text_nodes(node.b)
    if isinstance(node, Not):
        return _text_nodes(node.a)
    return []


def _run_decided(db: Database, matcher: TextMatcher, mailbox_id: int, criteria: Criteria) -> list[int]:
    """run without functions in SQL: the text criteria are decided in Python first, for the messages that
    the criteria without text of the top conjunction leave (the others cannot match anyway), then the
    whole tree runs as SQL with each text criterion a list of the ids it matched."""
    nodes = _text_nodes(criteria)
    decided: dict[int, list[int]] = {}
    if nodes:
        cheap = [i for i in criteria.items if not _has_text(i)] if isinstance(criteria, And) else []
        compiler = _Compiler(dialect.POSTGRESQL)
        condition = compiler.sql(And(cheap)) if cheap else "true"
        candidates = db.query_apart(
            "select id, path, (select data from message_parts p where p.message_id = messages.id) from messages "
            f"where mailbox_id = ? and {condition}", [mailbox_id] + compiler.params)
        for node in nodes:
            if isinstance(node, Text):
                decided[id(node)] = [i for i, path, _ in candidates
                                     if matcher(i, path, node.where, node.name, node.value)]
            else:
                decided[id(node)] = [i for i, path, parts in candidates
                                     if matcher.addresses(i, path, parts, node.field, node.value)]
    compiler = _Compiler(dialect.POSTGRESQL, decided)
    condition = compiler.sql(criteria)
    found = db.query_apart(f"select uid from messages where mailbox_id = ? and {condition} order by uid",
                           [mailbox_id] + compiler.params)
    return [r[0] for r in found]


def where(criteria: Criteria) -> tuple[str, list]:
    """The SQL condition on messages for criteria, and its parameters."""
    compiler = _Compiler()
    return compiler.sql(criteria), compiler.params


def run(db: Database, read: Callable[[int, str], bytes], mailbox_id: int, criteria: Criteria) -> list[int]:
    """UIDs of a mailbox's messages that match, ascending. It may read many messages: callers run it in a
    worker thread, so it reads over a connection of its thread's own. read: see TextMatcher."""
    matcher = TextMatcher(read)
    if dialect.of(db) == dialect.POSTGRESQL:
        return _run_decided(db, matcher, mailbox_id, criteria)
    condition, params = where(criteria)
    found = db.query_apart(f"select uid from messages where mailbox_id = ? and {condition} order by uid",
                           [mailbox_id] + params,
                           {"mox_text_match": (5, matcher), "mox_address_match": (5, matcher.addresses)})
    return [r[0] for r in found]

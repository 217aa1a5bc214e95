"""SEARCH keys (RFC 3501 6.4.4, RFC 5032 OLDER/YOUNGER, RFC 5182 "$") turned into the
store's search criteria. Sequence sets are translated to UID ranges with
the session's view, since the store knows nothing of sequence numbers.
"""

from __future__ import annotations

from ..store import search as criteria
from . import condstore, syntax
from .view import MailboxView

CHARSETS = (b"US-ASCII", b"UTF-8")

# Limits on what one SEARCH may ask, so that hostile input gets BAD rather than exhausting the
# parser's recursion or the SQL query's expression depth.
# Nested parentheses, NOT and OR: each level nests the SQL query one level deeper, and SQLite's parser
# stack (100 entries, several per level) refuses queries nested about 30 levels deep.
MAX_DEPTH = 20
MAX_CRITERIA = 1000  # search keys in all

# RFC 3501 9: number is an unsigned 32-bit integer; RFC 9051 9: number64 (sizes) is at most 2^63-1.
MAX_NUMBER = 2**32 - 1
MAX_NUMBER64 = 2**63 - 1


class BadCharset(ValueError):
    pass


def _text(token) -> str:
    if isinstance(token, list):
        raise syntax.CommandSyntaxError("string expected, got a list")
    return bytes(token).decode("utf-8", "replace")


class _Reader:
    def __init__(self, tokens: list, selected: MailboxView, depth: int = 0, counter: list[int] | None = None):
        self.tokens = tokens
        self.i = 0
        self.selected = selected
        self.depth = depth
        self.counter = counter if counter is not None else [0]  # keys read so far, shared with nested readers

    def next(self):
        if self.i >= len(self.tokens):
            raise syntax.CommandSyntaxError("missing search argument")
        token = self.tokens[self.i]
        self.i += 1
        return token

    def more(self) -> bool:
        return self.i < len(self.tokens)

    def number(self, limit: int = MAX_NUMBER) -> int:
        token = self.next()
        if isinstance(token, list) or not bytes(token).isdigit():
            raise syntax.CommandSyntaxError("number expected")
        if len(token) > 20 or int(token) > limit:
            raise syntax.CommandSyntaxError(f"number too large, at most {limit}")
        return int(token)

    def key(self):
        self.counter[0] += 1
        if self.counter[0] > MAX_CRITERIA:
            raise syntax.CommandSyntaxError(f"too many search keys, at most {MAX_CRITERIA}")
        if self.depth >= MAX_DEPTH:
            raise syntax.CommandSyntaxError(f"search keys nested too deeply, at most {MAX_DEPTH} levels")
        token = self.next()
        if isinstance(token, list):
            return _Reader(token, self.selected, self.depth + 1, self.counter).all()
        word = bytes(token).upper()
        if word == b"$":
            return self._saved()
        if word[:1].isdigit() or word[:1] == b"*":
            ranges = syntax.parse_sequence_set(bytes(token))
            return criteria.UIDRanges(self.selected.uid_ranges(ranges, by_uid=False))
        simple = _SIMPLE.get(word)
        if simple is not None:
            return simple()
        if word in (b"RECENT", b"NEW", b"OLD"):
            # RFC 3501 6.4.4: \Recent is the session's own; NEW is RECENT UNSEEN, OLD is NOT RECENT.
            recent = criteria.UIDRanges(list(self.selected.recent))
            if word == b"RECENT":
                return recent
            if word == b"NEW":
                return criteria.And([recent, criteria.Flag("\\seen", False)])
            return criteria.Not(recent)
        if word == b"NOT":
            return criteria.Not(self._nested())
        if word == b"OR":
            return criteria.Or(self._nested(), self._nested())
        if word == b"UID":
            if self.tokens[self.i:self.i + 1] == [b"$"]:
                self.i += 1
                return self._saved()
            ranges = syntax.parse_sequence_set(bytes(self.next()))
            return criteria.UIDRanges(self.selected.uid_ranges(ranges, by_uid=True))
        if word == b"MODSEQ":
            return condstore.search_key(self)  # RFC 7162 3.1.5
        if word in (b"KEYWORD", b"UNKEYWORD"):
            return criteria.Flag(_text(self.next()), word == b"KEYWORD")
        if word in (b"LARGER", b"SMALLER"):
            return criteria.Size(word == b"LARGER", self.number(MAX_NUMBER64))
        if word in (b"BEFORE", b"ON", b"SINCE"):
            return criteria.Received(word.decode().lower(), syntax.parse_date(bytes(self.next())))
        if word in (b"SENTBEFORE", b"SENTON", b"SENTSINCE"):
            return criteria.Sent(word[4:].decode().lower(), syntax.parse_date(bytes(self.next())))
        if word in (b"OLDER", b"YOUNGER"):
            return criteria.Received(word.decode().lower(), seconds=self.number())
        if word in (b"FROM", b"TO", b"CC", b"BCC"):
            return criteria.AddressField(word.decode().lower(), _text(self.next()))
        if word == b"SUBJECT":
            return criteria.Text("header", _text(self.next()), name="Subject")
        if word == b"HEADER":
            name = _text(self.next())
            return criteria.Text("header", _text(self.next()), name=name)
        if word in (b"BODY", b"TEXT"):
            return criteria.Text(word.decode().lower(), _text(self.next()))
        raise syntax.CommandSyntaxError(f"unknown search key {word[:40].decode('ascii', 'replace')}")

    def _saved(self) -> criteria.UIDRanges:
        """RFC 5182 2.1: "$" as a key, the saved search result."""
        return criteria.UIDRanges([(uid, uid) for uid in self.selected.saved])

    def _nested(self):
        """The key that NOT or OR applies to, one level deeper."""
        self.depth += 1
        try:
            return self.key()
        finally:
            self.depth -= 1

    def all(self) -> criteria.And:
        items = []
        while self.more():
            items.append(self.key())
        if not items:
            raise syntax.CommandSyntaxError("empty search")
        return criteria.And(items)


def _flag(name: str, present: bool = True):
    return lambda: criteria.Flag(name, present)


_SIMPLE = {
    b"ALL": lambda: criteria.And(),
    b"ANSWERED": _flag("\\answered"),
    b"DELETED": _flag("\\deleted"),
    b"DRAFT": _flag("\\draft"),
    b"FLAGGED": _flag("\\flagged"),
    b"SEEN": _flag("\\seen"),
    b"UNANSWERED": _flag("\\answered", False),
    b"UNDELETED": _flag("\\deleted", False),
    b"UNDRAFT": _flag("\\draft", False),
    b"UNFLAGGED": _flag("\\flagged", False),
    b"UNSEEN": _flag("\\seen", False),
}


def parse(tokens: list, selected: MailboxView) -> criteria.And:
    """Search criteria of a SEARCH command's arguments; BadCharset for a charset we cannot search in."""
    if tokens and not isinstance(tokens[0], list) and bytes(tokens[0]).upper() == b"CHARSET":
        if len(tokens) < 2 or isinstance(tokens[1], list):
            raise syntax.CommandSyntaxError("missing charset")
        if bytes(tokens[1]).upper() not in CHARSETS:
            raise BadCharset(bytes(tokens[1]))
        tokens = tokens[2:]
    return _Reader(tokens, selected).all()

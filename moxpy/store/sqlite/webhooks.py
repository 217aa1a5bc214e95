"""The webhook queue's storage in the server database (tables webhooks,
webhooks_retired and change_positions, see serverdb.py)."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from .. import dialect
from ..accounts import ChangePosition
from ..db import Database
from ..webhooks import RetiredWebhook, Webhook, WebhookAttempt, WebhookFilter, WebhookTransaction
from . import leases
from .where import Conditions

T = TypeVar("T")

_COMMON = ("id", "queue_msg_id", "from_id", "message_id", "subject", "extra", "account", "url", "is_incoming",
           "event", "payload", "submitted", "attempts", "results")
_QUEUED = _COMMON + ("authorization", "next_attempt")
_RETIRED = _COMMON + ("has_authorization", "success", "superseded_by", "last_activity", "keep_until")


def _results_json(results: list[WebhookAttempt]) -> str:
    return json.dumps([{"Start": a.start, "Duration": a.duration, "URL": a.url, "Success": a.success,
                        "Code": a.code, "Error": a.error, "Response": a.response} for a in results])


def _results(text: str) -> list[WebhookAttempt]:
    return [WebhookAttempt(start=r.get("Start", 0.0), duration=r.get("Duration", 0.0), url=r.get("URL", ""),
                           success=bool(r.get("Success")), code=r.get("Code", 0), error=r.get("Error", ""),
                           response=r.get("Response", "")) for r in json.loads(text or "[]")]


def _common(row: sqlite3.Row) -> dict:
    return dict(id=row["id"], queue_msg_id=row["queue_msg_id"], from_id=row["from_id"], message_id=row["message_id"],
                subject=row["subject"], extra=json.loads(row["extra"] or "{}"), account=row["account"],
                url=row["url"], is_incoming=bool(row["is_incoming"]), event=row["event"], payload=row["payload"],
                submitted=row["submitted"], attempts=row["attempts"], results=_results(row["results"]))


def _webhook(row: sqlite3.Row) -> Webhook:
    return Webhook(**_common(row), authorization=row["authorization"], next_attempt=row["next_attempt"])


def _retired(row: sqlite3.Row) -> RetiredWebhook:
    return RetiredWebhook(**_common(row), has_authorization=bool(row["has_authorization"]),
                          success=bool(row["success"]), superseded_by=row["superseded_by"],
                          last_activity=row["last_activity"], keep_until=row["keep_until"])


def _quoted(columns) -> list[str]:
    # "authorization" is a reserved word in PostgreSQL: a column by that name is quoted.
    return [f'"{c}"' if c == "authorization" else c for c in columns]


def _values(hook: Webhook | RetiredWebhook) -> dict:
    values = {c: getattr(hook, c) for c in (_QUEUED if isinstance(hook, Webhook) else _RETIRED)}
    values.update(extra=json.dumps(hook.extra), results=_results_json(hook.results))
    for c in ("is_incoming", "has_authorization", "success"):
        if c in values:
            values[c] = int(values[c])
    return values


def _where(f: WebhookFilter) -> tuple[str, list]:
    where = Conditions()
    where.ids(f.ids)
    if f.account:
        where.add("account = ?", f.account)
    if f.event == "incoming":
        where.add("is_incoming = 1")
    elif f.event:
        where.add("event = ?", f.event)
    if f.queue_msg_id:
        where.add("queue_msg_id = ?", f.queue_msg_id)
    if f.since:
        where.add("submitted >= ?", f.since)
    return where.sql()


class SqliteWebhookTransaction:
    """WebhookTransaction over an open SQLite transaction."""

    def __init__(self, conn: sqlite3.Connection):
        self._conn = conn

    def add(self, hook: Webhook, *, supersede: bool = False, keep: float = 0.0) -> int:
        values = _values(hook)
        del values["id"]
        columns = list(values)
        new_id = self._conn.execute(
            f"insert into webhooks ({','.join(_quoted(columns))}) values ({','.join('?' * len(columns))}) returning id",
            [values[c] for c in columns]).fetchone()[0]
        if supersede:
            older = self._conn.execute("select * from webhooks where queue_msg_id = ? and id != ?",
                                       (hook.queue_msg_id, new_id)).fetchall()
            for row in older:
                old = _webhook(row)
                self.retire(old.id, old.retired(success=False, now=hook.submitted, keep=keep, superseded_by=new_id)
                            if keep > 0 else None)
        return new_id

    def get(self, hook_id: int) -> Webhook | None:
        row = self._conn.execute("select * from webhooks where id = ?", (hook_id,)).fetchone()
        return _webhook(row) if row else None

    def get_retired(self, hook_id: int) -> RetiredWebhook | None:
        row = self._conn.execute("select * from webhooks_retired where id = ?", (hook_id,)).fetchone()
        return _retired(row) if row else None

    def matching(self, f: WebhookFilter) -> list[Webhook]:
        where, params = _where(f)
        return [_webhook(r) for r in self._conn.execute(f"select * from webhooks where {where}", params)]

    def retired_matching(self, f: WebhookFilter) -> list[RetiredWebhook]:
        where, params = _where(f)
        return [_retired(r) for r in self._conn.execute(
            f"select * from webhooks_retired where {where} order by submitted, id", params)]

    def change_position(self, account: str) -> ChangePosition | None:
        # Held to the commit: a producer on another node reads the position this transaction writes.
        dialect.lock_tx(self._conn, "change position " + account)
        row = self._conn.execute("select modseq, seq from change_positions where account = ?", (account,)).fetchone()
        return ChangePosition(row[0], row[1]) if row else None

    def set_change_position(self, account: str, position: ChangePosition | None) -> None:
        if position is None:
            self._conn.execute("delete from change_positions where account = ?", (account,))
        else:
            self._conn.execute(dialect.upsert("change_positions", ["account", "modseq", "seq"], ["account"]),
                               (account, position.modseq, position.seq))

    def save(self, hook: Webhook | RetiredWebhook) -> None:
        if isinstance(hook, Webhook):
            # An attempt recorded: its claim is over, the next one goes to any node.
            release = ", lease_until = 0" if leases.in_use(self._conn) else ""
            self._conn.execute(f"update webhooks set attempts = ?, next_attempt = ?, results = ?{release} where id = ?",
                               (hook.attempts, hook.next_attempt, _results_json(hook.results), hook.id))
        else:
            self._conn.execute("update webhooks_retired set attempts = ?, results = ? where id = ?",
                               (hook.attempts, _results_json(hook.results), hook.id))

    def retire(self, hook_id: int, retired: RetiredWebhook | None) -> None:
        self._conn.execute("delete from webhooks where id = ?", (hook_id,))
        if retired is not None:
            values = _values(retired)
            columns = list(values)
            self._conn.execute(dialect.upsert("webhooks_retired", columns, ["id"]), [values[c] for c in columns])


class SqliteWebhookStore:
    """WebhookStore in the server database. node: the name due webhooks are claimed under when nodes share
    the database (leases.py); None for a database of one server."""

    def __init__(self, db: Database, node: str | None = None):
        self.db = db
        self.node = node
        self.lease = leases.LEASE

    def transaction(self, fn: Callable[[WebhookTransaction], T]) -> Awaitable[T]:
        return self.db.write(lambda conn: fn(SqliteWebhookTransaction(conn)))

    def due_urls(self, now: float, exclude: Sequence[str], limit: int) -> list[str]:
        # "not in ()" is SQLite's alone: with nothing to exclude, no condition.
        others = f"and url not in ({','.join('?' * len(exclude))})" if exclude else ""
        params = [now, *exclude]
        if self.node is not None:
            others += " and url not in (select url from webhooks where lease_until > ? and lease_node != ?)"
            params += [now, self.node]
        rows = self.db.query(
            f"""select url from webhooks where next_attempt <= ? {others}
                group by url order by min(next_attempt) limit ?""", [*params, limit])
        return [row["url"] for row in rows]

    def due(self, url: str, now: float, exclude: Sequence[int], limit: int) -> list[Webhook]:
        others = f"and id not in ({','.join('?' * len(exclude))})" if exclude else ""
        if self.node is not None:
            # One node at a time posts to a URL: none while another holds a live claim on one of its webhooks.
            due = (f"url = ? and next_attempt <= ? {others} and not exists (select 1 from webhooks o "
                   "where o.url = ? and o.lease_until > ? and o.lease_node != ?)")
            rows = leases.claim(self.db, "webhooks", due, [url, now, *exclude, url, now, self.node], self.node, now,
                                self.lease, limit)
            return [_webhook(r) for r in rows]
        rows = self.db.query(
            f"""select * from webhooks where url = ? and next_attempt <= ? {others}
                order by next_attempt, id limit ?""", [url, now, *exclude, limit])
        return [_webhook(r) for r in rows]

    def get(self, hook_id: int) -> Webhook | None:
        row = self.db.query_one("select * from webhooks where id = ?", (hook_id,))
        return _webhook(row) if row else None

    def next_due(self) -> float | None:
        if self.node is not None:
            # A URL another node posts to is next free when that node's claims on it end.
            now, others = time.time(), "select url from webhooks where lease_until > ? and lease_node != ?"
            row = self.db.query_one(
                f"""select min(t) as t from (
                        select next_attempt as t from webhooks where url not in ({others})
                        union all select lease_until from webhooks where lease_until > ? and lease_node != ?) as due""",
                (now, self.node, now, self.node))
            return None if row is None else row["t"]
        row = self.db.query_one("select min(next_attempt) as t from webhooks")
        return None if row is None else row["t"]

    def queued(self, f: WebhookFilter) -> list[Webhook]:
        where, params = _where(f)
        return [_webhook(r) for r in self.db.query(f"select * from webhooks where {where} order by next_attempt, id",
                                                   params)]

    def count(self) -> int:
        return self.db.query_one("select count(*) from webhooks")[0]

    def retired(self, f: WebhookFilter) -> list[RetiredWebhook]:
        where, params = _where(f)
        return [_retired(r) for r in self.db.query(
            f"select * from webhooks_retired where {where} order by last_activity desc, id desc", params)]

    def kick(self, f: WebhookFilter, now: float) -> Awaitable[int]:
        where, params = _where(f)
        return self.db.write(lambda conn: conn.execute(f"update webhooks set next_attempt = ? where {where}",
                                                       [now] + params).rowcount)

    def cleanup(self, now: float) -> Awaitable[int]:
        return self.db.write(lambda conn: conn.execute("delete from webhooks_retired where keep_until < ?",
                                                       (now,)).rowcount)

    def remove_account(self, account: str) -> Awaitable[int]:
        def forget(conn: sqlite3.Connection) -> int:
            count = conn.execute("delete from webhooks where account = ?", (account,)).rowcount
            count += conn.execute("delete from webhooks_retired where account = ?", (account,)).rowcount
            conn.execute("delete from change_positions where account = ?", (account,))
            conn.execute("delete from webhook_secrets where account = ?", (account,))
            return count

        return self.db.write(forget)

    def change_positions(self) -> dict[str, ChangePosition]:
        return {r["account"]: ChangePosition(r["modseq"], r["seq"])
                for r in self.db.query("select account, modseq, seq from change_positions")}

    def signing_secrets(self, account: str, kind: str, now: float) -> list[str]:
        rows = self.db.query("""select secret from webhook_secrets where account = ? and kind = ?
                                and (until = 0 or until > ?) order by id desc""", (account, kind, now))
        return [r["secret"] for r in rows]

    def add_signing_secret(self, account: str, kind: str, secret: str, now: float,
                           overlap: float | None) -> Awaitable[bool]:
        def write(conn: sqlite3.Connection) -> bool:
            conn.execute("delete from webhook_secrets where until != 0 and until <= ?", (now,))
            current = conn.execute("select count(*) from webhook_secrets where account = ? and kind = ? and until = 0",
                                   (account, kind)).fetchone()[0]
            if current and overlap is None:
                return False
            # A secret of an earlier rotation still in its overlap stops no later than the one it overlapped.
            conn.execute("""update webhook_secrets set until = ? where account = ? and kind = ?
                            and (until = 0 or until > ?)""", (now + (overlap or 0.0), account, kind, now + (overlap or 0.0)))
            conn.execute("insert into webhook_secrets (account, kind, secret, created) values (?, ?, ?, ?)",
                         (account, kind, secret, now))
            return True

        return self.db.write(write)

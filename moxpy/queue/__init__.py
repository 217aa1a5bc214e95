"""The outgoing delivery queue.

Every submission becomes one queue entry per recipient, written with its
message file and fsync'ed before the submitter is answered. A worker
delivers due entries (in localserve: over SMTP to our own delivery
listener), retries temporary failures with doubling backoff, and retires
delivered and failed entries to the retired table.

Each outcome is also an outgoing event (delivered, delayed, failed, ...),
handed to the registered event sinks inside the same transaction that
records the outcome, so a crash can never lose or duplicate one: the
webhook queue is such a sink.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from ..store.db import Database
from ..store.files import read_message_file, remove_message_file, write_message_file
from . import backoff, limits
from .deliver import DeliveryResult, Deliverer

log = logging.getLogger("moxpy.queue")

_COLUMNS = {
    "id": int,
    "account": str,
    "created": float,
    "sender": str,  # the address the account sent as (From), for DSNs
    "mail_from": str,  # SMTP MAIL FROM, with the FromID when tracking is on
    "rcpt_to": str,
    "rcpt_domain": str,
    "from_id": str,
    "message_id": str,
    "subject": str,
    "path": str,  # message file under data/queue/, shared by the entries of one submission
    "size": int,
    "smtputf8": int,
    "require_tls": int,  # null: opportunistic, 1: REQUIRETLS, 0: TLS optional
    "extra": str,  # JSON object, copied into every webhook about this entry
    "next_attempt": float,
    "attempts": int,
    "hold": int,
    "last_attempt": float,
    "last_code": int,
    "last_enhanced_code": str,
    "last_error": str,
}


_SQL_TYPES = {int: "integer", float: "real", str: "text"}
_DEFAULTS = {
    "attempts": " not null default 0", "hold": " not null default 0", "last_code": " not null default 0",
    "last_enhanced_code": " not null default ''", "last_error": " not null default ''",
    "extra": " not null default '{}'", "from_id": " not null default ''", "smtputf8": " not null default 0",
}


def _create_table(conn: sqlite3.Connection, name: str, columns: dict[str, type], primary_key: str) -> None:
    defs = [f"id {primary_key}"] + [
        f"{col} {_SQL_TYPES[typ]}{_DEFAULTS.get(col, '')}" for col, typ in columns.items() if col != "id"]
    conn.execute(f"create table if not exists {name} ({', '.join(defs)})")


def schema(conn: sqlite3.Connection) -> None:
    limits.schema(conn)
    # AUTOINCREMENT: queue ids (QueueMsgID) are never reused, also after
    # entries are retired, so webhooks and DSNs always point to one message.
    _create_table(conn, "queue", _COLUMNS, "integer primary key autoincrement")
    # Retired entries keep the id they had in the queue.
    _create_table(conn, "retired", {**_COLUMNS, "retired": float, "success": int, "keep_until": float},
                  "integer primary key")
    db = sqlite_utils.Database(conn)
    db["queue"].create_index(["next_attempt"], if_not_exists=True)
    db["queue"].create_index(["path"], if_not_exists=True)
    db["retired"].create_index(["from_id"], if_not_exists=True)
    db["retired"].create_index(["keep_until"], if_not_exists=True)


@dataclass
class Recipient:
    address: str
    from_id: str = ""
    mail_from: str = ""


@dataclass
class Submission:
    """One message for one or more recipients, as submitted by an account."""

    account: str
    sender: str
    recipients: list[Recipient]
    data: bytes
    message_id: str = ""
    subject: str = ""
    smtputf8: bool = False
    require_tls: bool | None = None
    extra: dict[str, str] = field(default_factory=dict)
    release_at: float | None = None


@dataclass
class Event:
    """An outgoing delivery event for one queue entry (webhook.Outgoing in mox)."""

    event: str  # delivered, suppressed, delayed, failed, relayed, expanded, canceled, unrecognized
    entry: dict[str, Any]
    dsn: bool = False
    suppressing: bool = False
    smtp_code: int = 0
    smtp_enhanced_code: str = ""
    error: str = ""


EventSink = Callable[[sqlite3.Connection, Event], None]


class Queue:
    def __init__(self, db: Database, data_dir: str, settings, deliverer: Deliverer,
                 keep_period: Callable[[str], float] = lambda account: 0.0):
        self.db = db
        self.keep_period = keep_period  # seconds an account's retired entries are kept
        self.directory = os.path.join(data_dir, "queue")
        os.makedirs(self.directory, exist_ok=True)
        self.settings = settings  # config.Queue
        self.deliverer = deliverer
        self.event_sinks: list[EventSink] = []
        self._wake = asyncio.Event()
        self._inflight: dict[int, asyncio.Task] = {}
        self._pause_until: dict[int, float] = {}
        self._worker: asyncio.Task | None = None
        self._stopping = False

    # Submitting.

    async def add(self, submission: Submission) -> list[int]:
        """Store the message and one entry per recipient durably; return the entry ids."""
        loop = asyncio.get_running_loop()
        relpath, bucket = await loop.run_in_executor(None, write_message_file, self.directory, submission.data)
        now = time.time()
        next_attempt = submission.release_at or now

        def insert(conn: sqlite3.Connection) -> list[int]:
            ids = []
            for rcpt in submission.recipients:
                cursor = conn.execute(
                    """insert into queue (account, created, sender, mail_from, rcpt_to, rcpt_domain, from_id,
                           message_id, subject, path, size, smtputf8, require_tls, extra, next_attempt)
                       values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    (submission.account, now, submission.sender, rcpt.mail_from or submission.sender, rcpt.address,
                     rcpt.address.rpartition("@")[2].lower(), rcpt.from_id, submission.message_id,
                     submission.subject, relpath, len(submission.data), submission.smtputf8,
                     submission.require_tls, json.dumps(submission.extra), next_attempt),
                )
                ids.append(cursor.lastrowid)
            limits.record_tx(conn, submission.account, [r.address for r in submission.recipients], now)
            return ids

        try:
            ids = await self.db.write(insert, sync_dirs=[bucket])
        except BaseException:
            remove_message_file(self.directory, relpath)
            raise
        self.kick()
        return ids

    def limit_reached(self, account: str, recipients: list[str], max_messages: int, max_first_time: int) -> str:
        """Which daily send limit queueing for recipients would exceed: "messages", "recipients" or ""."""
        return limits.reached(self.db, account, recipients, max_messages, max_first_time)

    # Reading.

    def entries(self, where: str = "1", params: tuple = ()) -> list[sqlite3.Row]:
        return self.db.query(f"select * from queue where {where} order by id", params)

    def retired(self, where: str = "1", params: tuple = ()) -> list[sqlite3.Row]:
        return self.db.query(f"select * from retired where {where} order by id", params)

    def message_bytes(self, entry: sqlite3.Row) -> bytes:
        return read_message_file(self.directory, entry["path"])

    # The worker.

    def kick(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._worker = asyncio.get_running_loop().create_task(self._run(), name="queue worker")

    async def stop(self) -> None:
        self._stopping = True
        self.kick()
        if self._worker:
            await self._worker
        if self._inflight:
            # Abandon deliveries still in flight: their entries stay queued
            # and are retried at the next start.
            for task in self._inflight.values():
                task.cancel()
            await asyncio.gather(*self._inflight.values(), return_exceptions=True)
        close = getattr(self.deliverer, "close", None)
        if close:
            await close()

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                delay = self._start_due()
            except Exception:
                log.exception("queue worker")
                delay = 1.0
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
            except TimeoutError:
                pass

    def _start_due(self) -> float:
        """Start deliveries of due entries; return seconds until the next one is due."""
        now = time.time()
        room = self.settings.Concurrency - len(self._inflight)
        self._pause_until = {i: t for i, t in self._pause_until.items() if t > now}
        busy = ",".join(str(i) for i in list(self._inflight) + list(self._pause_until)) or "0"
        if room > 0:
            rows = self.db.query(
                f"select * from queue where hold = 0 and next_attempt <= ? and id not in ({busy}) order by next_attempt limit ?",
                (now, room),
            )
            for row in rows:
                task = asyncio.get_running_loop().create_task(self._deliver(row))
                self._inflight[row["id"]] = task
        next_row = self.db.query_one(f"select min(next_attempt) as t from queue where hold = 0 and id not in ({busy})")
        if next_row is None or next_row["t"] is None:
            return 3600.0
        return min(3600.0, max(0.05, next_row["t"] - now))

    async def _deliver(self, entry: sqlite3.Row) -> None:
        try:
            try:
                data = await asyncio.get_running_loop().run_in_executor(None, self.message_bytes, entry)
                result = await self.deliverer.deliver(entry, data)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.exception("delivering queue entry %d", entry["id"])
                result = DeliveryResult(ok=False, permanent=False, error=f"internal error: {e}")
            try:
                await self._record(entry, result)
            except Exception:
                # Not recorded: the entry stays queued; wait before trying it again
                # rather than delivering it in a tight loop.
                log.exception("recording delivery result of queue entry %d", entry["id"])
                self._pause_until[entry["id"]] = time.time() + 60
        finally:
            self._inflight.pop(entry["id"], None)
            self.kick()

    async def _record(self, entry: sqlite3.Row, result: DeliveryResult) -> None:
        now = time.time()
        attempts = entry["attempts"] + 1
        last_attempt = not result.ok and not result.permanent and attempts >= self.settings.MaxAttempts
        log.info("delivery attempt id=%d rcpt=%s attempt=%d ok=%s code=%d error=%r", entry["id"], entry["rcpt_to"],
                 attempts, result.ok, result.code, result.error)
        if result.ok or result.permanent or last_attempt:
            event = Event("delivered" if result.ok else "failed", dict(entry), smtp_code=result.code,
                          smtp_enhanced_code=result.enhanced_code, error=result.error)
            path = await self.db.write(lambda conn: self._retire(conn, entry["id"], result, attempts, now, event))
            if path:
                remove_message_file(self.directory, path)
        else:
            delay = backoff.delay(self.settings.BackoffFirst, attempts)
            event = Event("delayed", dict(entry), smtp_code=result.code, smtp_enhanced_code=result.enhanced_code,
                          error=result.error)

            def delay_entry(conn: sqlite3.Connection) -> None:
                conn.execute(
                    """update queue set attempts = ?, last_attempt = ?, next_attempt = ?, last_code = ?,
                           last_enhanced_code = ?, last_error = ? where id = ?""",
                    (attempts, now, now + delay, result.code, result.enhanced_code, result.error, entry["id"]),
                )
                self._emit(conn, event)

            await self.db.write(delay_entry)

    def _emit(self, conn: sqlite3.Connection, event: Event) -> None:
        for sink in self.event_sinks:
            sink(conn, event)

    def _retire(self, conn: sqlite3.Connection, entry_id: int, result: DeliveryResult, attempts: int, now: float,
                event: Event) -> str | None:
        """Move an entry to retired; return its message file's path when no other entry uses it."""
        row = conn.execute("select * from queue where id = ?", (entry_id,)).fetchone()
        if row is None:
            return None  # dropped meanwhile
        keep = self.keep_period(row["account"])
        values = dict(row)
        values.update(attempts=attempts, last_attempt=now, last_code=result.code,
                      last_enhanced_code=result.enhanced_code, last_error=result.error, retired=now,
                      success=int(result.ok), keep_until=now + keep)
        columns = ",".join(values)
        conn.execute(f"insert into retired ({columns}) values ({','.join('?' * len(values))})", tuple(values.values()))
        conn.execute("delete from queue where id = ?", (entry_id,))
        self._emit(conn, event)
        still_used = conn.execute("select 1 from queue where path = ? limit 1", (row["path"],)).fetchone()
        return None if still_used else row["path"]

"""The delivery queue's storage in the server database (tables queue,
retired, queue_messages, dsn_outbox, outgoing and suppressions, see
serverdb.py).

A submission's message up to INLINE_MAX bytes is a row of queue_messages,
inserted in the transaction that adds its entries: one WAL commit makes
both durable. Its key (the entries' path) starts with ROW_PREFIX, which no
file path has. The row is deleted in the transaction that retires the last
entry using it.

A larger message is a file under data/queue/, written and fsync'ed before
its entries, and its bucket directory is fsync'ed by the commit that adds
them (store.db group commit), so an entry never points to a file a crash
could lose. A crash in between leaves a file no entry refers to; cleanup()
sweeps those. A file is removed after the commit that retired the last
entry using it. Data directories from before queue_messages have only
files, and keep working.

A store made without a directory (the PostgreSQL server database, where
nodes share no filesystem) keeps every message in queue_messages,
whatever its size.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import secrets
import sqlite3
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import fields
from typing import TypeVar

from .. import dialect
from ..db import Database
from ..files import read_message_file, remove_message_file, write_message_file
from ..queue import (IDEMPOTENCY_KEEP, SEND_LOG_KEEP, Attempt, Entry, EntryFilter, IdempotencyKey, IdempotencyKeyUsed,
                     IdempotencyRecord, NewEntry, OutboxDSN, QueueTransaction, RetiredEntry, Suppression)
from . import leases
from .sendjobs import SqliteSendJobTransaction
from .webhooks import SqliteWebhookTransaction
from .where import Conditions

log = logging.getLogger("moxpy.store.queue")

T = TypeVar("T")

_ENTRY_COLUMNS = [f.name for f in fields(Entry)]
_RETIRED_COLUMNS = [f.name for f in fields(RetiredEntry)]
# What changes over an entry's life; the rest is fixed at submission.
_MUTABLE = ("attempts", "hold", "next_attempt", "last_attempt", "last_code", "last_enhanced_code", "last_error",
            "delivering", "results")
_BOOLS = ("smtputf8", "hold", "delivering", "success")

# Message files younger than this may belong to a submission still committing.
ORPHAN_MIN_AGE = 60.0

# Messages up to this size are stored in the database rather than in a file.
# For them one WAL commit is cheaper than a file write, its fsync and the
# bucket directory's fsync, and a thread hop for the write. A blob is
# written twice (into the WAL, then into the database at the checkpoint)
# and fills the commit of every write batched with it, so large messages
# stay in files; SQLite's own measurements put reading blobs from the
# database ahead of separate files up to about 100 KB as well.
INLINE_MAX = 64 * 1024

# Paths of messages stored in queue_messages start with this; file paths
# are BUCKET/NAME in hexadecimal, never with a colon.
ROW_PREFIX = "db:"


def in_database(path: str) -> bool:
    """Whether the message with this path is a row of queue_messages rather than a file."""
    return path.startswith(ROW_PREFIX)


def _results_json(results: list[Attempt]) -> str:
    # Stored with the field names of mox's MsgResult.
    return json.dumps([{"Start": a.start, "Duration": a.duration, "Success": a.success, "Code": a.code,
                        "Secode": a.enhanced_code, "Error": a.error} for a in results])


def _results(text: str) -> list[Attempt]:
    return [Attempt(start=r.get("Start", 0.0), duration=r.get("Duration", 0.0), success=bool(r.get("Success")),
                    code=r.get("Code", 0), enhanced_code=r.get("Secode", ""), error=r.get("Error", ""))
            for r in json.loads(text or "[]")]


def _record(cls, columns: list[str], row: sqlite3.Row):
    values = {c: row[c] for c in columns}
    for c in _BOOLS:
        if c in values:
            values[c] = bool(values[c])
    if values["require_tls"] is not None:
        values["require_tls"] = bool(values["require_tls"])
    values["extra"] = json.loads(values["extra"] or "{}")
    values["results"] = _results(values["results"])
    return cls(**values)


def _entry(row: sqlite3.Row) -> Entry:
    return _record(Entry, _ENTRY_COLUMNS, row)


def _retired(row: sqlite3.Row) -> RetiredEntry:
    return _record(RetiredEntry, _RETIRED_COLUMNS, row)


def _value(column: str, value):
    if column == "results":
        return _results_json(value)
    if column == "extra":
        return json.dumps(value)
    if isinstance(value, bool):
        return int(value)
    return value


def _suppression(row: sqlite3.Row) -> Suppression:
    return Suppression(id=row["id"], created=row["created"], account=row["account"], base_address=row["base_address"],
                       original_address=row["original_address"], manual=bool(row["manual"]), reason=row["reason"])


def _where(conn_or_db, f: EntryFilter, retired: bool = False) -> tuple[str, list]:
    where = Conditions()
    where.ids(f.ids)
    if f.account:
        where.add("account = ?", f.account)
    if f.domain:
        where.add("rcpt_domain = ?", f.domain.lower().lstrip("@"))
    if f.to:
        where.add(dialect.contains(conn_or_db, "lower(rcpt_to)"), f.to.lower())
    if f.hold is not None and not retired:
        where.add("hold = ?", int(f.hold))
    if f.success is not None and retired:
        where.add("success = ?", int(f.success))
    return where.sql()


def _id_list(ids: Sequence[int]) -> str:
    # Integers only, so they can go in the SQL text (no limit on their number).
    return ",".join(str(int(i)) for i in ids) or "0"


class SqliteQueueTransaction:
    """QueueTransaction over an open SQLite transaction."""

    def __init__(self, conn: sqlite3.Connection):
        self._conn = conn
        self.webhooks = SqliteWebhookTransaction(conn)
        self.sendjobs = SqliteSendJobTransaction(conn)
        self.unused_paths: list[str] = []  # message files to remove after the commit

    def entry(self, entry_id: int) -> Entry | None:
        row = self._conn.execute("select * from queue where id = ?", (entry_id,)).fetchone()
        return _entry(row) if row else None

    def entries(self, ids: Sequence[int]) -> list[Entry]:
        return [_entry(r) for r in self._conn.execute(f"select * from queue where id in ({_id_list(ids)}) order by id")]

    def matching(self, f: EntryFilter) -> list[Entry]:
        where, params = _where(self._conn, f)
        return [_entry(r) for r in self._conn.execute(f"select * from queue where {where}", params)]

    def by_from_id(self, account: str, from_id: str) -> Entry | RetiredEntry | None:
        row = self._conn.execute("select * from retired where from_id = ? and account = ?",
                                 (from_id, account)).fetchone()
        if row is not None:
            return _retired(row)
        row = self._conn.execute("select * from queue where from_id = ? and account = ?", (from_id, account)).fetchone()
        return _entry(row) if row else None

    def save(self, entry: Entry | RetiredEntry) -> None:
        table = "retired" if isinstance(entry, RetiredEntry) else "queue"
        # The outcome of an attempt recorded: its claim is over, the next attempt goes to any node.
        release = ", lease_until = 0" if table == "queue" and not entry.delivering and leases.in_use(self._conn) else ""
        self._conn.execute(f"update {table} set {', '.join(c + ' = ?' for c in _MUTABLE)}{release} where id = ?",
                           [_value(c, getattr(entry, c)) for c in _MUTABLE] + [entry.id])

    def retire(self, entry: Entry, retired: RetiredEntry | None) -> None:
        self._conn.execute("delete from queue where id = ?", (entry.id,))
        if retired is not None:
            self._conn.execute(dialect.upsert("retired", _RETIRED_COLUMNS, ["id"]),
                               [_value(c, getattr(retired, c)) for c in _RETIRED_COLUMNS])
        if self._conn.execute("select 1 from queue where path = ? limit 1", (entry.path,)).fetchone() is None:
            if in_database(entry.path):
                self._conn.execute("delete from queue_messages where path = ?", (entry.path,))
            else:
                self.unused_paths.append(entry.path)

    def recent_retired(self, account: str, rcpt_to: str, exclude_id: int, limit: int) -> list[RetiredEntry]:
        rows = self._conn.execute(
            "select * from retired where account = ? and rcpt_to = ? and id != ? order by retired desc limit ?",
            (account, rcpt_to, exclude_id, limit)).fetchall()
        return [_retired(r) for r in rows]

    def suppression(self, account: str, base_address: str) -> Suppression | None:
        row = self._conn.execute("select * from suppressions where account = ? and base_address = ?",
                                 (account, base_address)).fetchone()
        return _suppression(row) if row else None

    def add_suppression(self, s: Suppression) -> bool:
        cursor = self._conn.execute(
            "insert into suppressions (created, account, base_address, original_address, manual, reason) "
            "values (?, ?, ?, ?, ?, ?) on conflict do nothing",
            (s.created, s.account, s.base_address, s.original_address, int(s.manual), s.reason))
        return cursor.rowcount == 1

    def remove_suppression(self, account: str, base_address: str) -> bool:
        return self._conn.execute("delete from suppressions where account = ? and base_address = ?",
                                  (account, base_address)).rowcount > 0

    def add_dsn(self, account: str, rcpt_to: str, data: bytes) -> None:
        self._conn.execute("insert into dsn_outbox (account, rcpt_to, data) values (?, ?, ?)", (account, rcpt_to, data))


class SqliteQueueStore:
    """QueueStore in the server database, messages up to INLINE_MAX in it too, larger ones in files under
    directory; with no directory, every message in the database. node: the name due entries are claimed
    under when nodes share the database (leases.py); None for a database of one server."""

    def __init__(self, db: Database, directory: str | None, node: str | None = None):
        self.db = db
        self.directory = directory
        self.node = node
        self.lease = leases.LEASE
        # The largest message kept in the database; files hold the larger ones.
        self.inline_max = INLINE_MAX if directory is not None else None
        if directory is not None:
            os.makedirs(directory, exist_ok=True)

    def _inline(self, message: bytes) -> bool:
        return self.inline_max is None or len(message) <= self.inline_max

    async def transaction(self, fn: Callable[[QueueTransaction], T]) -> T:
        unused: list[str] = []

        def run(conn: sqlite3.Connection) -> T:
            tx = SqliteQueueTransaction(conn)
            result = fn(tx)
            unused.extend(tx.unused_paths)
            return result

        result = await self.db.write(run)
        await self._remove_files(unused)
        return result

    async def _remove_files(self, paths: list[str]) -> None:
        if paths:
            await asyncio.get_running_loop().run_in_executor(None, self._remove_message_files, paths)

    def _remove_message_files(self, paths: list[str]) -> None:
        for path in paths:
            remove_message_file(self.directory, path)

    # Submitting and delivering.

    async def submit(self, message: bytes, entries: list[NewEntry], idempotency: IdempotencyKey | None = None,
                     then: Callable[[QueueTransaction, list[int]], None] | None = None) -> list[int]:
        if self._inline(message):
            relpath, sync_dirs = ROW_PREFIX + secrets.token_hex(12), []
        else:
            relpath, bucket = await asyncio.get_running_loop().run_in_executor(
                None, write_message_file, self.directory, message)
            sync_dirs = [bucket]

        def insert(conn: sqlite3.Connection) -> list[int]:
            if in_database(relpath):
                conn.execute("insert into queue_messages (path, data) values (?, ?)", (relpath, message))
            ids = []
            for e in entries:
                values = {f.name: _value(f.name, getattr(e, f.name)) for f in fields(NewEntry)}
                values.update(path=relpath, size=len(message))
                columns = list(values)
                cursor = conn.execute(f"insert into queue ({','.join(columns)}) values ({','.join('?' * len(columns))}) "
                                      "returning id", [values[c] for c in columns])
                ids.append(cursor.fetchone()[0])
                conn.execute("insert into outgoing (account, recipient, submitted) values (?, ?, ?)",
                             (e.account, e.rcpt_to.lower(), e.created))
            if entries:
                conn.execute("delete from outgoing where submitted < ?", (entries[0].created - SEND_LOG_KEEP,))
            if idempotency is not None:
                now = entries[0].created if entries else time.time()
                conn.execute("delete from idempotency_keys where created < ?", (now - IDEMPOTENCY_KEEP,))
                # Not an error caught: after one, a PostgreSQL transaction takes no more statements.
                cursor = conn.execute("insert into idempotency_keys (account, key, digest, created, response) "
                                      "values (?, ?, ?, ?, ?) on conflict do nothing",
                                      (idempotency.account, idempotency.key, idempotency.digest, now,
                                       idempotency.response(ids)))
                if cursor.rowcount == 0:
                    raise IdempotencyKeyUsed(idempotency.key)
            if then is not None:
                then(SqliteQueueTransaction(conn), ids)
            return ids

        try:
            return await self.db.write(insert, sync_dirs=sync_dirs)
        except BaseException:
            if not in_database(relpath):
                remove_message_file(self.directory, relpath)
            raise

    def idempotency_record(self, account: str, key: str, since: float) -> IdempotencyRecord | None:
        row = self.db.query_one("select * from idempotency_keys where account = ? and key = ? and created >= ?",
                                (account, key, since))
        return IdempotencyRecord(row["account"], row["key"], row["digest"], row["created"], row["response"]) \
            if row else None

    def message(self, entry: Entry) -> bytes:
        if not in_database(entry.path):
            return read_message_file(self.directory, entry.path)
        # This runs in worker threads: a connection of the thread's own keeps
        # reading a blob from holding up the reads on the shared one.
        rows = self.db.query_apart("select data from queue_messages where path = ?", (entry.path,))
        if not rows:
            raise FileNotFoundError(errno.ENOENT, "queue message no longer stored", entry.path)
        return bytes(rows[0]["data"])

    def due(self, now: float, exclude: Sequence[int], limit: int) -> list[Entry]:
        if self.node is not None:
            # Not one still in doubt after a node died mid-attempt: in_doubt (recovery) settles those first.
            due = f"hold = 0 and delivering = 0 and next_attempt <= ? and id not in ({_id_list(exclude)})"
            return [_entry(r) for r in leases.claim(self.db, "queue", due, [now], self.node, now, self.lease, limit)]
        rows = self.db.query(
            f"""select * from queue where hold = 0 and next_attempt <= ? and id not in ({_id_list(exclude)})
                order by next_attempt, id limit ?""", (now, limit))
        return [_entry(r) for r in rows]

    def next_due(self, exclude: Sequence[int]) -> float | None:
        if self.node is not None:
            when, params = leases.next_due(self.node)
            row = self.db.query_one(
                f"select min({when}) as t from queue where hold = 0 and id not in ({_id_list(exclude)})", params)
            return None if row is None else row["t"]
        row = self.db.query_one(
            f"select min(next_attempt) as t from queue where hold = 0 and id not in ({_id_list(exclude)})")
        return None if row is None else row["t"]

    # Crash recovery.

    def in_doubt(self, exclude: Sequence[int] = ()) -> list[Entry]:
        if self.node is not None:
            # Not the entries other nodes are attempting now: those whose claim ran out or is ours, claimed so
            # that one node settles each.
            now = time.time()
            doubt = f"delivering = 1 and id not in ({_id_list(exclude)})"
            return sorted((_entry(r) for r in leases.claim(self.db, "queue", doubt, [], self.node, now, self.lease,
                                                           1000)), key=lambda e: e.id)
        return [_entry(r) for r in self.db.query(
            f"select * from queue where delivering = 1 and id not in ({_id_list(exclude)}) order by id")]

    def clear_attempt(self, entry_id: int, *, uncount: bool = False, next_attempt: float | None = None
                      ) -> Awaitable[None]:
        def update(conn: sqlite3.Connection) -> None:
            release = ", lease_until = 0" if leases.in_use(conn) else ""  # the attempt is over
            if uncount:
                conn.execute(f"update queue set delivering = 0, attempts = {dialect.greatest(conn)}(0, attempts - 1)"
                             f"{release} where id = ?", (entry_id,))
            else:
                conn.execute(f"update queue set delivering = 0{release} where id = ?", (entry_id,))
            if next_attempt is not None:
                conn.execute("update queue set next_attempt = ? where id = ?", (next_attempt, entry_id))

        return self.db.write(update)

    # Operators.

    def queued(self, f: EntryFilter) -> list[Entry]:
        where, params = _where(self.db, f)
        return [_entry(r) for r in self.db.query(f"select * from queue where {where} order by next_attempt, id", params)]

    def count(self) -> int:
        return self.db.query_one("select count(*) from queue")[0]

    def retired(self, f: EntryFilter) -> list[RetiredEntry]:
        where, params = _where(self.db, f, retired=True)
        return [_retired(r) for r in self.db.query(
            f"select * from retired where {where} order by retired desc, id desc", params)]

    def set_hold(self, f: EntryFilter, hold: bool) -> Awaitable[int]:
        where, params = _where(self.db, f)
        return self.db.write(lambda conn: conn.execute(
            f"update queue set hold = ? where ({where}) and hold != ?", [int(hold)] + params + [int(hold)]).rowcount)

    def kick(self, f: EntryFilter, now: float) -> Awaitable[int]:
        where, params = _where(self.db, f)
        return self.db.write(lambda conn: conn.execute(
            f"update queue set next_attempt = ? where ({where}) and hold = 0", [now] + params).rowcount)

    # The suppression list.

    def suppressions(self, account: str) -> list[Suppression]:
        return [_suppression(r) for r in self.db.query("select * from suppressions where account = ? order by id",
                                                       (account,))]

    def suppression(self, account: str, base_address: str) -> Suppression | None:
        row = self.db.query_one("select * from suppressions where account = ? and base_address = ?",
                                (account, base_address))
        return _suppression(row) if row else None

    # The send log.

    def sent_count(self, account: str, since: float) -> int:
        return self.db.query_one("select count(*) as n from outgoing where account = ? and submitted > ?",
                                 (account, since))["n"]

    def recent_recipients(self, account: str, since: float) -> list[tuple[str, float]]:
        rows = self.db.query("select recipient, min(submitted) as first from outgoing where account = ? and "
                             "submitted > ? group by recipient", (account, since))
        return [(row["recipient"], row["first"]) for row in rows]

    def sent_before(self, account: str, recipient: str, before: float) -> bool:
        return self.db.query_one("select 1 from outgoing where account = ? and recipient = ? and submitted < ? limit 1",
                                 (account, recipient, before)) is not None

    # The DSN outbox.

    def pending_dsns(self) -> list[OutboxDSN]:
        return [OutboxDSN(id=r["id"], account=r["account"], rcpt_to=r["rcpt_to"], data=bytes(r["data"]))
                for r in self.db.query("select * from dsn_outbox order by id")]

    async def remove_dsn(self, dsn_id: int) -> None:
        await self.db.write(lambda conn: conn.execute("delete from dsn_outbox where id = ?", (dsn_id,)))

    # Housekeeping.

    async def cleanup(self, now: float) -> int:
        if self.directory is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._remove_orphans)

        def forget(conn: sqlite3.Connection) -> int:
            # A row goes with the last entry using it, so this finds none
            # unless entries were removed some other way (an older version
            # run on this data directory, SQL by hand).
            conn.execute("delete from queue_messages where not exists "
                         "(select 1 from queue where queue.path = queue_messages.path)")
            return conn.execute("delete from retired where keep_until < ?", (now,)).rowcount

        return await self.db.write(forget)

    async def remove_account(self, account: str) -> int:
        def forget(tx: SqliteQueueTransaction) -> int:
            entries = tx.matching(EntryFilter(account=account))
            for entry in entries:
                tx.retire(entry, None)  # and its message, when no other account's entry uses it
            conn = tx._conn
            count = len(entries) + conn.execute("delete from retired where account = ?", (account,)).rowcount
            for table in ("suppressions", "outgoing", "idempotency_keys", "dsn_outbox"):
                conn.execute(f"delete from {table} where account = ?", (account,))
            return count

        return await self.transaction(forget)

    def _remove_orphans(self) -> None:
        """Message files of submissions that never committed (a crash between the file and its entries)."""
        used = {row["path"] for row in self.db.query("select distinct path from queue")}
        for bucket in os.listdir(self.directory):
            bucket_dir = os.path.join(self.directory, bucket)
            if not os.path.isdir(bucket_dir):
                continue
            for name in os.listdir(bucket_dir):
                relpath = os.path.join(bucket, name)
                if relpath in used:
                    continue
                # Look again: a submission may have committed meanwhile.
                if self.db.query_one("select 1 from queue where path = ? limit 1", (relpath,)) is not None:
                    continue
                try:
                    if time.time() - os.stat(os.path.join(bucket_dir, name)).st_mtime > ORPHAN_MIN_AGE:
                        remove_message_file(self.directory, relpath)
                except FileNotFoundError:
                    pass

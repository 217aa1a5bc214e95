"""The queue's worker: picks due entries, delivers them through the
Deliverer, and records each outcome.

Recipients of one message at one domain are batched into one attempt where
the Deliverer can. An attempt is marked before it starts (so a crash leaves
it in doubt, see recovery.py) and its result is recorded in one transaction
with the events and DSNs it causes (outcome.py, outbox.py). The worker
rescans the table at least every second (moxpy.worker), so it notices
holds, releases, kicks and drops made by another process without a signal.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from ..message.address import AddressError, parse_address
from ..store import Store
from ..store.db import Database
from ..store.files import read_message_file, remove_message_file
from ..worker import WorkerLoop
from . import backoff, limits, notify, submit, suppression
from .deliver import DeliveryResult, Deliverer
from .orphans import remove_orphan_files
from .outbox import DSNOutbox
from .outcome import EventSink, Recorder, add_dsn_tx, attempt_result
from .recovery import recover
from .submit import Submission

log = logging.getLogger("moxpy.queue")

MAX_BATCH = 50  # recipients in one SMTP transaction

STOP_GRACE = 1.0  # seconds deliveries in flight get to finish at shutdown


class Queue:
    def __init__(self, db: Database, data_dir: str, get_config, deliverer: Deliverer, store: Store | None = None):
        self.db = db
        self.get_config = get_config
        self.directory = os.path.join(data_dir, "queue")
        os.makedirs(self.directory, exist_ok=True)
        self.deliverer = deliverer
        self.recorder = Recorder(self._keep_period)
        # Called after a commit that emitted events (e.g. to wake the webhook worker).
        self.on_events: list[Callable[[], None]] = []
        self._loop = WorkerLoop("queue worker", self._start_due, self._cleanup, before=self._recover)
        self._inflight: dict[int, asyncio.Task] = {}  # entry id -> the delivery it is part of
        self._tasks: set[asyncio.Task] = set()
        self._pause_until: dict[int, float] = {}
        self.outbox = DSNOutbox(db, store, get_config)

    @property
    def event_sinks(self) -> list[EventSink]:
        """Functions (conn, event) called in the transaction of every outcome."""
        return self.recorder.sinks

    def _keep_period(self, account: str) -> float:
        acc = self.get_config().Accounts.get(account)
        return acc.KeepRetiredMessagePeriod if acc else 0.0

    @property
    def settings(self):
        return self.get_config().Queue

    # Submitting.

    async def add(self, submission: Submission) -> list[int]:
        """Store the message and one entry per recipient durably; return the entry ids."""
        ids = await submit.add(self.db, self.directory, submission)
        self.kick()
        return ids

    def limit_reached(self, account: str, recipients: list[str], max_messages: int, max_first_time: int) -> str:
        """Which daily send limit queueing for recipients would exceed: "messages", "recipients" or ""."""
        return limits.reached(self.db, account, recipients, max_messages, max_first_time)

    # Reading.

    def message_bytes(self, entry) -> bytes:
        return read_message_file(self.directory, entry["path"])

    # The worker.

    def kick(self) -> None:
        self._loop.kick()

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
        if self._tasks:
            # Let deliveries in flight finish for a moment, so their outcome is
            # recorded; abandon the rest: their entries stay marked as in
            # progress and are reconciled at the next start.
            _, pending = await asyncio.wait(list(self._tasks), timeout=STOP_GRACE)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        close = getattr(self.deliverer, "close", None)
        if close is not None:
            await close()

    def _start_due(self) -> float:
        """Start deliveries of due entries; return seconds until the next one is due."""
        now = time.time()
        room = self.settings.Concurrency - len(self._tasks)
        self._pause_until = {i: t for i, t in self._pause_until.items() if t > now}
        busy = ",".join(str(i) for i in list(self._inflight) + list(self._pause_until)) or "0"
        if room > 0:
            rows = self.db.query(
                f"""select * from queue where hold = 0 and next_attempt <= ? and id not in ({busy})
                    order by next_attempt, id limit ?""",
                (now, room * (MAX_BATCH if self.deliverer.batches else 1)),
            )
            for group in self._batches(rows)[:room]:
                task = asyncio.get_running_loop().create_task(self._deliver(group))
                self._tasks.add(task)
                for row in group:
                    self._inflight[row["id"]] = task
        next_row = self.db.query_one(f"select min(next_attempt) as t from queue where hold = 0 and id not in ({busy})")
        if next_row is None or next_row["t"] is None:
            return 3600.0
        return max(0.05, next_row["t"] - now)

    def _batches(self, rows: list[sqlite3.Row]) -> list[list[sqlite3.Row]]:
        """Group due entries that can share one SMTP transaction: same message,
        recipient domain, MAIL FROM and TLS requirement (RFC 5321 3.3)."""
        if not self.deliverer.batches:
            return [[row] for row in rows]
        groups: dict[tuple, list[sqlite3.Row]] = {}
        result = []
        for row in rows:
            key = (row["path"], row["rcpt_domain"], row["mail_from"], row["require_tls"])
            group = groups.get(key)
            if group is None or len(group) >= MAX_BATCH:
                group = groups[key] = []
                result.append(group)
            group.append(row)
        return result

    async def _deliver(self, group: list[sqlite3.Row]) -> None:
        ids = [row["id"] for row in group]
        try:
            try:
                data = await asyncio.get_running_loop().run_in_executor(None, self.message_bytes, group[0])
            except OSError as e:
                log.error("reading message file of queue entries %s: %s", ids, e)
                data = None
            now = time.time()
            entries, retired_some = await self.db.write(lambda conn: self._prepare(conn, ids, now, data))
            if retired_some:
                await self._after_commit()
            if not entries:
                return
            if data is None:
                results = [DeliveryResult(ok=False, error="message file missing")] * len(entries)
            else:
                try:
                    results = await self.deliverer.deliver(entries, data)
                except asyncio.CancelledError:
                    raise
                except Exception as e:
                    log.exception("delivering queue entries %s", ids)
                    results = [DeliveryResult(ok=False, error=f"internal error: {e}")] * len(entries)
            end = time.time()
            try:
                paths = await self.db.write(lambda conn: self._record(conn, entries, results, now, end, data))
            except Exception:
                # Not recorded: the entries stay marked; wait before trying them
                # again rather than delivering in a tight loop.
                log.exception("recording delivery results of queue entries %s", ids)
                for i in ids:
                    self._pause_until[i] = time.time() + 60
                return
            await self._remove_files(paths)
            await self._after_commit()
        finally:
            for i in ids:
                self._inflight.pop(i, None)
            self._tasks.discard(asyncio.current_task())
            self.kick()

    def _prepare(self, conn: sqlite3.Connection, ids: list[int], now: float,
                 data: bytes | None) -> tuple[list[dict[str, Any]], bool]:
        """Mark an attempt on the entries before it starts; retire suppressed ones.

        The entries' next attempt is moved ahead by the backoff already, so a
        crash during the attempt does not make it hammer the remote (as mox).
        """
        placeholders = ",".join("?" * len(ids))
        rows = conn.execute(f"select * from queue where id in ({placeholders}) and hold = 0 order by id",
                            ids).fetchall()
        entries = []
        retired_some = False
        hostname = self.get_config().Hostname
        for row in rows:
            entry = dict(row)
            try:
                address = parse_address(entry["rcpt_to"])
            except AddressError:
                address = None
            if address is not None and suppression.lookup_tx(conn, entry["account"], address) is not None:
                error = f"not delivering to {entry['rcpt_to']}: address is on the suppression list"
                entry.update(attempts=entry["attempts"] + 1, last_attempt=now)
                result = attempt_result(now, False, error=error, end=now)
                self.recorder.retire(conn, entry, "suppressed", result=result, now=now)
                if notify.wanted(entry) and data is not None:
                    self.outbox.dirty = True
                    add_dsn_tx(conn, entry["account"], entry["sender"],
                               notify.failure(entry, data, hostname, 0, "5.7.1", error))
                log.info("suppressed id=%d rcpt=%s", entry["id"], entry["rcpt_to"])
                retired_some = True
                continue
            attempts = entry["attempts"] + 1
            next_attempt = now + backoff.delay(self.settings.BackoffFirst, attempts)
            conn.execute("update queue set attempts = ?, last_attempt = ?, next_attempt = ?, delivering = 1 where id = ?",
                         (attempts, now, next_attempt, entry["id"]))
            entry.update(attempts=attempts, last_attempt=now, next_attempt=next_attempt, delivering=1)
            entries.append(entry)
        return entries, retired_some

    def _record(self, conn: sqlite3.Connection, entries: list[dict[str, Any]], results: list[DeliveryResult],
                start: float, end: float, data: bytes | None) -> list[str]:
        """Record the results of one attempt; return message files no longer used."""
        paths = []
        hostname = self.get_config().Hostname
        max_attempts = self.settings.MaxAttempts
        for entry, result in zip(entries, results):
            row = conn.execute("select * from queue where id = ?", (entry["id"],)).fetchone()
            if row is None:
                log.info("queue entry %d was removed during its delivery attempt", entry["id"])
                continue
            entry = dict(row)
            attempt = attempt_result(start, result.ok, result.code, result.enhanced_code, result.error, end)
            log.info("delivery attempt id=%d rcpt=%s attempt=%d ok=%s code=%d error=%r", entry["id"],
                     entry["rcpt_to"], entry["attempts"], result.ok, result.code, result.error)
            if result.ok:
                path = self.recorder.retire(conn, entry, "delivered", success=True, result=attempt, now=end)
            elif result.permanent or entry["attempts"] >= max_attempts:
                suppressing = False
                try:
                    address = parse_address(entry["rcpt_to"])
                    suppressing = suppression.record_failure_tx(conn, entry["account"], address, entry["id"],
                                                                result.code, result.enhanced_code, "queue")
                except AddressError:
                    pass
                path = self.recorder.retire(conn, entry, "failed", result=attempt, suppressing=suppressing, now=end)
                if notify.wanted(entry) and data is not None:
                    self.outbox.dirty = True
                    add_dsn_tx(conn, entry["account"], entry["sender"],
                               notify.failure(entry, data, hostname, result.code, result.enhanced_code, result.error,
                                              result.remote_mta))
            else:
                self.recorder.delay(conn, entry, attempt, entry["next_attempt"])
                path = None
                if entry["attempts"] == notify.DELAYED_DSN_ATTEMPT and notify.wanted(entry) and data is not None:
                    retry_until = entry["next_attempt"] + sum(
                        backoff.delay(self.settings.BackoffFirst, n, jitter=False)
                        for n in range(entry["attempts"] + 1, max_attempts))
                    self.outbox.dirty = True
                    add_dsn_tx(conn, entry["account"], entry["sender"],
                               notify.delayed(entry, data, hostname, result.code, result.enhanced_code, result.error,
                                              retry_until, result.remote_mta))
            if path:
                paths.append(path)
        return paths

    async def _remove_files(self, paths: list[str]) -> None:
        if paths:
            await asyncio.get_running_loop().run_in_executor(
                None, lambda: [remove_message_file(self.directory, p) for p in paths])

    async def _after_commit(self) -> None:
        for callback in self.on_events:
            callback()
        if self.outbox.dirty:
            await self.outbox.send()

    # Restarts and housekeeping.

    async def _recover(self) -> None:
        """Reconcile entries whose attempt was cut off by a crash, deliver pending DSNs."""
        await self._remove_files(await recover(self.db, self.deliverer, self.recorder))
        await self._after_commit()

    async def _cleanup(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, remove_orphan_files, self.db, self.directory)
        now = time.time()
        count = await self.db.write(lambda conn: conn.execute("delete from retired where keep_until < ?",
                                                              (now,)).rowcount)
        if count:
            log.info("removed %d expired retired queue entries", count)

"""The queue's worker: picks due entries, delivers them through the
Deliverer, and records each outcome.

Recipients of one message at one domain are batched into one attempt where
the Deliverer can. An attempt is marked before it starts (so a crash leaves
it in doubt, see recovery.py) and its result is recorded in one transaction
with the events and DSNs it causes (outcome.py, outbox.py). The worker
rescans the store at least every second (moxpy.worker), so it notices
holds, releases, kicks and drops made by another process without a signal.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import replace

from .. import config as configlib
from .. import metrics
from ..store import Store, storage_full
from ..store.queue import Entry, QueueStore, QueueTransaction
from ..worker import WorkerLoop
from . import backoff, limits, outcome, submit, suppression
from .deliver import DeliveryResult, Deliverer
from .outbox import DSNOutbox
from .outcome import EventSink, Recorder
from .recovery import recover
from .submit import NewMessage

log = logging.getLogger("moxpy.queue")

MAX_BATCH = 50  # recipients in one SMTP transaction
STOP_GRACE = 1.0  # seconds deliveries in flight get to finish at shutdown
# Times due entries are fetched in one pass at most: again while some fetched wait for their domain, so that
# a burst to one domain does not keep other domains' entries from starting.
DUE_ROUNDS = 3
PAUSE_AFTER_STORE_ERROR = 60.0  # seconds before entries whose result could not be recorded are tried again


class Queue:
    def __init__(self, config: configlib.Source, store: QueueStore, deliverer: Deliverer | None,
                 accounts: Store | None = None, wake: Callable[[], None] | None = None):
        """deliverer None: this process only adds to the queue, and wake tells the process that delivers."""
        self.store = store
        self.config = config
        self.deliverer = deliverer
        self.recorder = Recorder(self._keep_period)
        # Called after a commit that emitted events (e.g. to wake the webhook worker).
        self.on_events: list[Callable[[], None]] = []
        self.outbox = DSNOutbox(config, store, accounts)  # accounts: where DSNs to our senders go
        self._loop = WorkerLoop("queue worker", self._start_due, self._cleanup, before=self._recover)
        self._inflight: dict[int, asyncio.Task] = {}  # entry id -> the delivery it is part of
        self._tasks: set[asyncio.Task] = set()
        self._domains: dict[asyncio.Task, str] = {}  # the recipient domain of each delivery in flight
        self._pause_until: dict[int, float] = {}
        self._wake = wake

    @property
    def event_sinks(self) -> list[EventSink]:
        """Functions (tx, event) called in the transaction of every outcome."""
        return self.recorder.sinks

    def _keep_period(self, account: str) -> float:
        acc = self.config.current().Accounts.get(account)
        return acc.KeepRetiredMessagePeriod if acc else 0.0

    @property
    def settings(self):
        return self.config.current().Queue

    # Submitting.

    async def add(self, submission: NewMessage) -> list[int]:
        """Store the message and one entry per recipient durably; return the entry ids.
        IdempotencyKeyUsed when the submission's idempotency key is taken (nothing queued)."""
        ids = await self.store.submit(submission.data, submit.entries(submission, time.time()),
                                      submission.idempotency, submission.then)
        self.kick()
        return ids

    def limit_reached(self, account: str, recipients: list[str], max_messages: int, max_first_time: int) -> str:
        """Which daily send limit queueing for recipients would exceed: "messages", "recipients" or ""."""
        return limits.reached(self.store, account, recipients, max_messages, max_first_time)

    # The worker.

    def kick(self) -> None:
        if self._wake is not None:
            self._wake()
        else:
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
        waiting: list[int] = []  # due, but their domain has as many deliveries in flight as it may
        for _ in range(DUE_ROUNDS):
            if room <= 0:
                break
            busy = list(self._inflight) + list(self._pause_until) + waiting
            due = self.store.due(now, busy, room * (MAX_BATCH if self.deliverer.batches else 1))
            if not due:
                break
            held = len(waiting)
            for group in self._batches(due):
                if room <= 0:
                    break
                if self._domain_full(group[0].rcpt_domain):
                    waiting.extend(entry.id for entry in group)
                    continue
                self._start(group)
                room -= 1
            if len(waiting) == held:
                break  # all that was due could start: nothing more is due now
        # Entries waiting for their domain start when one of its deliveries ends (each end kicks).
        next_due = self.store.next_due(list(self._inflight) + list(self._pause_until) + waiting)
        if next_due is None:
            return 3600.0
        return max(0.05, next_due - now)

    def _start(self, group: list[Entry]) -> None:
        task = asyncio.get_running_loop().create_task(self._deliver(group))
        self._tasks.add(task)
        self._domains[task] = group[0].rcpt_domain
        for entry in group:
            self._inflight[entry.id] = task

    def _domain_full(self, domain: str) -> bool:
        """Whether the deliveries in flight to domain are as many as Queue.DestinationConcurrency allows."""
        cap = self.settings.DestinationConcurrency
        if not cap or not getattr(self.deliverer, "per_domain", False):
            return False
        return sum(1 for d in self._domains.values() if d == domain) >= cap

    def _batches(self, entries: list[Entry]) -> list[list[Entry]]:
        """Group due entries that can share one SMTP transaction: same message,
        recipient domain, MAIL FROM and TLS requirement (RFC 5321 3.3)."""
        if not self.deliverer.batches:
            return [[entry] for entry in entries]
        groups: dict[tuple, list[Entry]] = {}
        result = []
        for entry in entries:
            key = (entry.path, entry.rcpt_domain, entry.mail_from, entry.require_tls)
            group = groups.get(key)
            if group is None or len(group) >= MAX_BATCH:
                group = groups[key] = []
                result.append(group)
            group.append(entry)
        return result

    async def _deliver(self, group: list[Entry]) -> None:
        ids = [entry.id for entry in group]
        try:
            try:
                data = await asyncio.get_running_loop().run_in_executor(None, self.store.message, group[0])
            except OSError as e:
                log.error("reading message of queue entries %s: %s", ids, e)
                data = None
            now = time.time()
            entries, suppressed = await self.store.transaction(lambda tx: self._claim(tx, ids, now, data))
            for _ in range(suppressed):
                metrics.queue_delivery("suppressed")
            if suppressed:
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
                kinds = await self.store.transaction(lambda tx: self._record(tx, entries, results, now, end, data))
            except Exception as e:
                # Not recorded: the entries stay marked; wait before trying them
                # again rather than delivering in a tight loop.
                if storage_full(e):
                    log.warning("recording delivery results of queue entries %s: storage full: %s", ids, e)
                else:
                    log.exception("recording delivery results of queue entries %s", ids)
                for i in ids:
                    self._pause_until[i] = time.time() + PAUSE_AFTER_STORE_ERROR
                return
            for kind in kinds:
                metrics.queue_delivery(kind)
            await self._after_commit()
        finally:
            for i in ids:
                self._inflight.pop(i, None)
            self._tasks.discard(asyncio.current_task())
            self._domains.pop(asyncio.current_task(), None)
            self.kick()

    def _claim(self, tx: QueueTransaction, ids: list[int], now: float,
               data: bytes | None) -> tuple[list[Entry], int]:
        """Mark an attempt on the entries before it starts; retire suppressed ones.

        The entries' next attempt is moved ahead by the backoff already, so a
        crash during the attempt does not make it hammer the remote (as mox).
        Returns the entries to attempt and how many were retired.
        """
        entries = []
        retired = 0
        hostname = self.config.current().Hostname
        for entry in tx.entries(ids):
            if entry.hold:
                continue
            if suppression.listed(tx, entry.account, entry.rcpt_to):
                if outcome.retire_suppressed(tx, self.recorder, entry, now, hostname=hostname, data=data):
                    self.outbox.dirty = True
                retired += 1
                continue
            attempts = entry.attempts + 1
            entry = replace(entry, attempts=attempts, last_attempt=now, delivering=True,
                            next_attempt=now + backoff.delay(self.settings.BackoffFirst, attempts))
            tx.save(entry)
            entries.append(entry)
        return entries, retired

    def _record(self, tx: QueueTransaction, entries: list[Entry], results: list[DeliveryResult], start: float,
                end: float, data: bytes | None) -> list[str]:
        """Record the results of one attempt; returns what each came to (outcome.result_of)."""
        hostname = self.config.current().Hostname
        for entry, result in zip(entries, results):
            if outcome.record_delivery(tx, self.recorder, entry.id, result, start, end, settings=self.settings,
                                       hostname=hostname, data=data):
                self.outbox.dirty = True
        return [outcome.result_of(entry, result, self.settings) for entry, result in zip(entries, results)]

    async def _after_commit(self) -> None:
        for callback in self.on_events:
            callback()
        if self.outbox.dirty:
            await self.outbox.send()

    # Restarts and housekeeping.

    async def _recover(self) -> None:
        """Reconcile entries whose attempt was cut off by a crash, deliver pending DSNs."""
        await recover(self.store, self.deliverer, self.recorder)
        await self._after_commit()

    async def take_over(self) -> None:
        """Where nodes share the database: settle the entries a node that died was attempting (their claims
        ran out), as after a crash (recovery.py), so that they are due again; called every so often."""
        await recover(self.store, self.deliverer, self.recorder, exclude=list(self._inflight))
        await self._after_commit()
        self.kick()

    async def _cleanup(self) -> None:
        count = await self.store.cleanup(time.time())
        if count:
            log.info("removed %d expired retired queue entries", count)

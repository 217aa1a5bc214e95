"""Recording what happened to queue entries, inside store transactions.

Every state change of an entry (delivered, delayed, failed, suppressed,
canceled, or learned later from an incoming DSN) is recorded here, and each
produces an Event handed to the registered event sinks in the same
transaction: the webhook queue queues its webhooks there, so an outcome and
its webhook are committed together or not at all. DSNs for the sender go to
the outbox in that transaction too.

Used by the worker, crash recovery, FromID matching and the operator
commands alike; everything here goes through the QueueTransaction it is
given.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace

from ..store.queue import Attempt, Entry, QueueTransaction, RetiredEntry
from . import backoff, notify, suppression
from .deliver import DeliveryResult
from .events import Event

log = logging.getLogger("moxpy.queue")

# Called inside the transaction of every outcome; raising rolls it all back.
EventSink = Callable[[QueueTransaction, Event], None]


def attempt_result(start: float, success: bool, code: int = 0, enhanced: str = "", error: str = "",
                   end: float | None = None) -> Attempt:
    """One element of an entry's results."""
    end = time.time() if end is None else end
    return Attempt(start=start, duration=max(0.0, end - start), success=success, code=code, enhanced_code=enhanced,
                   error=error)


class Recorder:
    """Writes outcomes of entries and emits their events."""

    def __init__(self, keep_period: Callable[[str], float], sinks: list[EventSink] | None = None):
        self.keep_period = keep_period  # seconds an account's retired entries are kept
        self.sinks: list[EventSink] = sinks if sinks is not None else []

    def emit(self, tx: QueueTransaction, event: Event) -> None:
        for sink in self.sinks:
            sink(tx, event)

    def retire(self, tx: QueueTransaction, entry: Entry, event: str, *, success: bool = False,
               result: Attempt | None = None, suppressing: bool = False, now: float | None = None) -> None:
        """Take an entry out of the queue (kept as retired for the account's
        period) and emit its event. result is the attempt that ended it."""
        now = time.time() if now is None else now
        if result is not None:
            entry = replace(entry, results=entry.results + [result], last_code=result.code,
                            last_enhanced_code=result.enhanced_code, last_error=result.error)
        keep = self.keep_period(entry.account)
        retired = RetiredEntry.of(replace(entry, delivering=False), retired=now, event=event, success=success,
                                  keep_until=now + keep)
        tx.retire(entry, retired if keep > 0 else None)
        # As mox, the SMTP codes are for errors: a delivered event carries none, though its attempt got a 250.
        codes = {} if success else dict(smtp_code=entry.last_code, smtp_enhanced_code=entry.last_enhanced_code)
        self.emit(tx, Event.of(event, entry, suppressing=suppressing, error=entry.last_error, **codes))

    def delay(self, tx: QueueTransaction, entry: Entry, result: Attempt, next_attempt: float) -> None:
        """Record a temporary failure: the entry stays queued until next_attempt."""
        tx.save(replace(entry, delivering=False, next_attempt=next_attempt, last_code=result.code,
                        last_enhanced_code=result.enhanced_code, last_error=result.error,
                        results=entry.results + [result]))
        self.emit(tx, Event.of("delayed", entry, smtp_code=result.code, smtp_enhanced_code=result.enhanced_code,
                               error=result.error))


def result_of(entry: Entry, result: DeliveryResult, settings) -> str:
    """What an attempt comes to: "delivered", "failed" (for good: a permanent error or the last attempt) or
    "delayed" (tried again later)."""
    if result.ok:
        return "delivered"
    if result.permanent or entry.attempts >= settings.MaxAttempts:
        return "failed"
    return "delayed"


def record_delivery(tx: QueueTransaction, recorder: Recorder, entry_id: int, result: DeliveryResult, start: float,
                    end: float, *, settings, hostname: str, data: bytes | None) -> bool:
    """Record the result of an attempt on one entry: delivered, failed for good
    (perhaps suppressing the address) or delayed until its next attempt, with
    the DSN the sender gets. Returns whether a DSN went to the outbox."""
    entry = tx.entry(entry_id)
    if entry is None:
        log.info("queue entry %d was removed during its delivery attempt", entry_id)
        return False
    attempt = attempt_result(start, result.ok, result.code, result.enhanced_code, result.error, end)
    log.info("delivery attempt id=%d rcpt=%s attempt=%d ok=%s code=%d error=%r", entry.id, entry.rcpt_to,
             entry.attempts, result.ok, result.code, result.error)
    # Without the message there is nothing to quote in a DSN.
    original = data if data is not None and notify.wanted(entry) else None
    kind = result_of(entry, result, settings)
    if kind == "delivered":
        recorder.retire(tx, entry, "delivered", success=True, result=attempt, now=end)
        return False
    if kind == "failed":
        suppressing = suppression.record_failure(tx, entry.account, entry.rcpt_to, entry.id, result.code,
                                                 result.enhanced_code, "queue")
        recorder.retire(tx, entry, "failed", result=attempt, suppressing=suppressing, now=end)
        if original is None:
            return False
        tx.add_dsn(entry.account, entry.sender, notify.failure(
            entry, original, hostname, result.code, result.enhanced_code, result.error, result.remote_mta))
        return True
    recorder.delay(tx, entry, attempt, entry.next_attempt)
    # RFC 5321 4.5.4.1: tell the sender about a delay, once.
    if entry.attempts != notify.DELAYED_DSN_ATTEMPT or original is None:
        return False
    retry_until = entry.next_attempt + sum(backoff.delay(settings.BackoffFirst, n, jitter=False)
                                           for n in range(entry.attempts + 1, settings.MaxAttempts))
    tx.add_dsn(entry.account, entry.sender, notify.delayed(
        entry, original, hostname, result.code, result.enhanced_code, result.error, retry_until, result.remote_mta))
    return True


def retire_suppressed(tx: QueueTransaction, recorder: Recorder, entry: Entry, now: float, *, hostname: str,
                      data: bytes | None) -> bool:
    """Retire an entry whose recipient is on the suppression list instead of
    attempting it; returns whether a DSN went to the outbox."""
    error = f"not delivering to {entry.rcpt_to}: address is on the suppression list"
    entry = replace(entry, attempts=entry.attempts + 1, last_attempt=now)
    recorder.retire(tx, entry, "suppressed", result=attempt_result(now, False, error=error, end=now), now=now)
    log.info("suppressed id=%d rcpt=%s", entry.id, entry.rcpt_to)
    if not notify.wanted(entry) or data is None:
        return False
    tx.add_dsn(entry.account, entry.sender, notify.failure(entry, data, hostname, 0, "5.7.1", error))
    return True

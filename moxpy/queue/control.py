"""Operator control of the delivery queue (`mox.py queue ...`).

Listing, hold, release and kick are single store calls (QueueStore.list,
retired, set_hold, kick); dropping is an outcome with its event, so it is
here. Each change is one transaction on the server database, so the
commands can run in their own process next to a running server. The
server's worker rescans the queue at least every second, so a release or
kick takes effect within a second, and an entry dropped during its
delivery attempt is simply not recorded again when the attempt ends.
"""

from __future__ import annotations

import time

from ..store.queue import EntryFilter, QueueStore, QueueTransaction
from .outcome import Recorder, attempt_result


async def drop(store: QueueStore, f: EntryFilter, recorder: Recorder, now: float | None = None) -> int:
    """Remove matching entries from the queue with a "canceled" event, no DSN; how many."""
    now = time.time() if now is None else now

    def cancel(tx: QueueTransaction) -> int:
        entries = tx.matching(f)
        for entry in entries:
            result = attempt_result(now, False, error="delivery canceled by operator", end=now)
            recorder.retire(tx, entry, "canceled", result=result, now=now)
        return len(entries)

    return await store.transaction(cancel)

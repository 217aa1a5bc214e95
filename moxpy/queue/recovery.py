"""Crash recovery: entries whose delivery attempt was cut off.

An attempt is marked in the store before it starts (Entry.delivering). At
the next start, each such in-doubt entry is reconciled: the Deliverer says
whether the message arrived after all when it can know (localserve looks in
its own store, so every entry is delivered exactly once); otherwise the
entry is retried at its scheduled time, a duplicate rather than a loss (RFC
5321 6.1).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from ..store.queue import QueueStore
from .deliver import Deliverer
from .outcome import Recorder, attempt_result

log = logging.getLogger("moxpy.queue")


async def recover(store: QueueStore, deliverer: Deliverer, recorder: Recorder, exclude: Sequence[int] = ()) -> None:
    """Settle every in-doubt entry but those in exclude (attempts going on in this process)."""
    for entry in store.in_doubt(exclude):
        try:
            delivered = await deliverer.reconcile(entry)
        except Exception:
            log.exception("reconciling queue entry %d", entry.id)
            delivered = None
        now = time.time()
        if delivered:
            result = attempt_result(entry.last_attempt or now, True, 250, end=now)
            await store.transaction(lambda tx, e=entry, r=result: recorder.retire(
                tx, e, "delivered", success=True, result=r, now=now))
        elif delivered is False:
            # It did not arrive: the attempt does not count, try again now.
            await store.clear_attempt(entry.id, uncount=True, next_attempt=now)
        else:
            await store.clear_attempt(entry.id)

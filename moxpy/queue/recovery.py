"""Crash recovery: entries whose delivery attempt was cut off.

An attempt is marked in the database before it starts (delivering = 1). At
the next start, each such in-doubt entry is reconciled: the Deliverer says
whether the message arrived after all when it can know (localserve looks in
its own store, so every entry is delivered exactly once); otherwise the
entry is retried at its scheduled time, a duplicate rather than a loss (RFC
5321 6.1).
"""

from __future__ import annotations

import logging
import time

from ..store.db import Database
from .deliver import Deliverer
from .outcome import Recorder, attempt_result

log = logging.getLogger("moxpy.queue")


async def recover(db: Database, deliverer: Deliverer, recorder: Recorder) -> list[str]:
    """Settle every in-doubt entry; return the message files no longer used."""
    paths: list[str] = []
    for row in db.query("select * from queue where delivering = 1"):
        entry = dict(row)
        try:
            delivered = await deliverer.reconcile(entry)
        except Exception:
            log.exception("reconciling queue entry %d", entry["id"])
            delivered = None
        now = time.time()
        if delivered:
            result = attempt_result(entry["last_attempt"] or now, True, 250, end=now)
            paths += await db.write(lambda conn, e=entry, r=result: [
                p for p in [recorder.retire(conn, e, "delivered", success=True, result=r, now=now)] if p])
        elif delivered is False:
            # It did not arrive: the attempt does not count, try again now.
            await db.write(lambda conn, i=entry["id"]: conn.execute(
                "update queue set delivering = 0, attempts = max(0, attempts - 1), next_attempt = ? where id = ?",
                (now, i)))
        else:
            await db.write(lambda conn, i=entry["id"]: conn.execute(
                "update queue set delivering = 0 where id = ?", (i,)))
    return paths

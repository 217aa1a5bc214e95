"""The loop of a background worker over a database table, as the delivery
queue and the webhook queue run it.

The worker's step starts whatever is due and says how long until the next
thing is. The loop runs the step when kicked, when that time comes, and at
least every RESCAN seconds, so rows changed by another process (the
command line) are seen; now and then it runs a cleanup. It knows nothing
of what the rows mean.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from .store.errors import log_failure

log = logging.getLogger("moxpy.worker")

RESCAN = 1.0  # seconds between rescans at the most
CLEANUP_INTERVAL = 3600.0  # seconds between cleanups


class WorkerLoop:
    def __init__(self, name: str, step: Callable[[], float], cleanup: Callable[[], Awaitable[None]],
                 before: Callable[[], Awaitable[None]] | None = None):
        self.name = name
        self._step = step  # start what is due; return seconds until the next is due
        self._cleanup = cleanup
        self._before = before  # run once before the first step, e.g. recovery after a crash
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._next_cleanup = 0.0
        self.stopping = False

    def kick(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """Stop stepping; what the steps started is the owner's to finish."""
        self.stopping = True
        self.kick()
        if self._task:
            await self._task

    async def _run(self) -> None:
        if self._before:
            try:
                await self._before()
            except Exception:
                log.exception("%s: before the first step", self.name)
        while not self.stopping:
            self._wake.clear()
            try:
                delay = self._step()
                if time.time() >= self._next_cleanup:
                    self._next_cleanup = time.time() + CLEANUP_INTERVAL
                    await self._cleanup()
            except Exception as e:
                log_failure(log, self.name, e)
                delay = 1.0
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=min(delay, RESCAN))
            except TimeoutError:
                pass

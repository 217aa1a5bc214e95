"""Writing a long answer no faster than the client reads it.

A Twisted transport buffers whatever is written to it. An answer sent in
parts (a large message over IMAP or the webapi) registers a Backpressure
as its producer: the transport pauses it when its buffer fills and
resumes it as the client reads, and the writer awaits wait() between
parts. A connection that goes away stops it, which lets a waiting writer
go on to find the connection lost.
"""

from __future__ import annotations

import asyncio

from twisted.internet import interfaces
from zope.interface import implementer


@implementer(interfaces.IPushProducer)
class Backpressure:
    def __init__(self):
        self.paused = False
        self._waiter: asyncio.Future | None = None

    async def wait(self) -> None:
        """Return once the transport wants more (at once unless it paused this)."""
        while self.paused:
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def pauseProducing(self):
        self.paused = True

    def resumeProducing(self):
        self.paused = False
        self._wake()

    def stopProducing(self):
        self.paused = False
        self._wake()

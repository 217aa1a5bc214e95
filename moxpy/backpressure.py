"""Sending a large stored message in parts, no faster than the client reads it.

IMAP FETCH and the webapi's MessageRawGet answer a message larger than
LARGE_MESSAGE without reading it whole: they read PART octets at a time
from the store's open_message (read_exactly) and write each as it comes.
A Twisted transport buffers whatever is written to it, so such an answer
registers a Backpressure as its producer: the transport pauses it when
its buffer fills and resumes it as the client reads, and the writer
awaits wait() between parts. A connection that goes away stops it, which
lets a waiting writer go on to find the connection lost.
"""

from __future__ import annotations

import asyncio

from twisted.internet import interfaces
from zope.interface import implementer

LARGE_MESSAGE = 1024 * 1024  # octets above which a message is sent in parts
PART = 256 * 1024  # octets read and written at a time


def read_exactly(f, start: int, end: int) -> bytes:
    """Octets start to end of an open message; OSError when it ends before them (removed meanwhile)."""
    f.seek(start)
    data = f.read(end - start)
    if len(data) != end - start:
        raise OSError(f"message ends at {start + len(data)}, before octet {end}")
    return data


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

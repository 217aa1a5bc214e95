"""Where CPU work of a given size runs: small work on the event loop,
large work in a thread.

A thread keeps a large message from stalling every other client, but for
the common small message the hop costs more than the work: the thread
waits for the GIL behind the loop, and the loop waits for the thread.
Work on at most INLINE octets (about a millisecond of parsing or
composing) runs where it is called. Only CPU work: reading a file stays in
a thread whatever its size, since a file can be slow to read, unless it is
in memory already (store.Account.message_bytes_cached).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

INLINE = 64 * 1024


async def run(size: int, fn: Callable[..., T], *args: Any) -> T:
    """fn(*args), on the loop when size (the octets it works on) is small, else in a thread."""
    if size <= INLINE:
        return fn(*args)
    return await asyncio.to_thread(fn, *args)

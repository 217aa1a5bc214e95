"""Where CPU work of a given size runs: small work on the event loop,
large work in a thread, and the largest of the work that holds the GIL
throughout in a helper process.

A thread keeps a large message from stalling every other client, but for
the common small message the hop costs more than the work: the thread
waits for the GIL behind the loop, and the loop waits for the thread.
Work on at most INLINE octets (about a millisecond of parsing or
composing) runs where it is called. Only CPU work: reading a file stays in
a thread whatever its size, since a file can be slow to read, unless it is
in memory already (store.Account.message_bytes_cached).

A thread only helps while the work gives the GIL back now and then, which
Python code does every few milliseconds. A regular expression or a split
over a whole message does not: dkimpy canonicalizing the body of a 5 MB
message holds the GIL for a quarter of a second on its own, and the event
loop waits all that time. Such work on more than APART octets runs in a
helper process (apart()), started at the first such message and stopped
again once idle for IDLE seconds, so a server that never sees one never
has it.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

T = TypeVar("T")

log = logging.getLogger("moxpy.offload")

INLINE = 64 * 1024
APART = 1024 * 1024
IDLE = 60.0  # seconds without work after which the helper process stops


async def run(size: int, fn: Callable[..., T], *args: Any) -> T:
    """fn(*args), on the loop when size (the octets it works on) is small, else in a thread."""
    if size <= INLINE:
        return fn(*args)
    return await asyncio.to_thread(fn, *args)


def apart(fn: Callable[..., T], *args: Any) -> T:
    """fn(*args) in the helper process; blocks, so call it from a thread (as run() makes for large work).
    fn must be a module-level function, and its arguments, result and exceptions picklable. Should the
    helper process die (killed, out of memory), the work is done here instead."""
    from concurrent.futures.process import BrokenProcessPool

    try:
        return _helper.submit(fn, *args).result()
    except BrokenProcessPool:
        log.warning("helper process stopped unexpectedly; working in the server process")
        return fn(*args)


def _ignore_interrupts() -> None:
    # A Ctrl-C in the terminal reaches the whole process group; the server stops its helper itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class _Helper:
    """One helper process, made when first needed and shut down when idle."""

    def __init__(self):
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self._busy = 0
        self._timer: threading.Timer | None = None

    def submit(self, fn, *args):
        # Loaded with the first large message: a server that never has one does not carry them.
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        from concurrent.futures.process import BrokenProcessPool

        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self._pool is None:
                # spawn: a fresh interpreter, since forking a process with threads and an event loop running
                # copies them in whatever state they are.
                self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=_ignore_interrupts)
            pool = self._pool
            self._busy += 1
        try:
            future = pool.submit(fn, *args)
        except BrokenProcessPool:
            with self._lock:
                self._busy -= 1
                if self._pool is pool:
                    self._pool = None
            raise
        future.add_done_callback(lambda done: self._done(pool, done))
        return future

    def _done(self, pool: ProcessPoolExecutor, future) -> None:
        from concurrent.futures.process import BrokenProcessPool

        broken = not future.cancelled() and isinstance(future.exception(), BrokenProcessPool)
        with self._lock:
            self._busy -= 1
            if pool is not self._pool:
                return
            if broken:  # a broken pool takes no more work; the next call makes a new one
                self._pool = None
                pool.shutdown(wait=False)
            elif self._busy == 0:
                self._timer = threading.Timer(IDLE, self._stop_if_idle, (pool,))
                self._timer.daemon = True
                self._timer.start()

    def _stop_if_idle(self, pool: ProcessPoolExecutor) -> None:
        with self._lock:
            if pool is not self._pool or self._busy:
                return
            self._pool, self._timer = None, None
        pool.shutdown(wait=False)

    def running(self) -> bool:
        with self._lock:
            return self._pool is not None

    def stop(self) -> None:
        """Stop the helper process, if there is one (at server shutdown)."""
        with self._lock:
            pool, self._pool = self._pool, None
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


_helper = _Helper()
stop = _helper.stop
running = _helper.running  # whether the helper process is there

"""Noticing when the event loop stalls, and saying what it was doing.

Every listener shares one event loop thread, so a callback that computes
or blocks for long delays every client at once. The loop runs a tiny
callback every INTERVAL seconds that notes the time; a daemon thread wakes
as often and, when that note is older than INTERVAL + THRESHOLD, logs one
warning with the innermost frames of the loop thread's stack (what is
holding it up), and once the loop runs again one line with how long it
stalled. Idle, that is two wakeups per INTERVAL and nothing more.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
import time
import traceback

log = logging.getLogger("moxpy.watchdog")

INTERVAL = 0.05  # seconds between the loop's heartbeats, and between the watchdog's checks
THRESHOLD = 0.1  # a heartbeat this much overdue is a stall
FRAMES = 6  # innermost frames of the loop thread named in the warning


def describe_stack(frame, limit: int = FRAMES) -> str:
    """The innermost frames of a stack as "file:line function", innermost first."""
    frames = traceback.extract_stack(frame)[-limit:]
    return " <- ".join(f"{_short(f.filename)}:{f.lineno} {f.name}" for f in reversed(frames))


def _short(filename: str) -> str:
    # Paths from the package or library on, not where this machine keeps them.
    parts = filename.replace(os.sep, "/").split("/")
    for marker in ("site-packages", "dist-packages"):
        if marker in parts:
            return "/".join(parts[len(parts) - parts[::-1].index(marker):])
    if "moxpy" in parts:
        return "/".join(parts[len(parts) - 1 - parts[::-1].index("moxpy"):])
    return "/".join(parts[-2:])


class Watchdog:
    def __init__(self, loop: asyncio.AbstractEventLoop, *, interval: float = INTERVAL,
                 threshold: float = THRESHOLD):
        self.loop = loop
        self.interval = interval
        self.threshold = threshold
        self._beat = time.monotonic()  # when the loop last ran the heartbeat
        self._loop_thread: int | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start watching; call from the loop's thread."""
        self._loop_thread = threading.get_ident()
        self._beat = time.monotonic()
        self._handle = self.loop.call_later(self.interval, self._heartbeat)
        self._thread = threading.Thread(target=self._watch, name="loop-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching; call from the loop's thread."""
        self._beat = time.monotonic()  # the loop runs this, so a stall being reported is over
        self._stopping.set()
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self._thread is not None:
            self._thread.join(1.0)
            self._thread = None

    def _heartbeat(self) -> None:
        self._beat = time.monotonic()
        if not self._stopping.is_set():
            self._handle = self.loop.call_later(self.interval, self._heartbeat)

    def _watch(self) -> None:
        stalled_since: float | None = None  # the last heartbeat before the stall being reported
        while True:
            stopping = self._stopping.wait(self.interval)
            beat = self._beat
            if stalled_since is not None and beat != stalled_since:
                log.warning("event loop ran again stalled_ms=%d", max(0.0, beat - stalled_since - self.interval) * 1000)
                stalled_since = None
            if stopping:
                return
            if stalled_since is not None:
                continue
            overdue = time.monotonic() - beat - self.interval
            if overdue > self.threshold:
                frame = sys._current_frames().get(self._loop_thread)
                where = describe_stack(frame) if frame is not None else "unknown"
                log.warning("event loop stalled ms=%d in=%s", overdue * 1000, where)
                stalled_since = beat

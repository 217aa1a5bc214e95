"""A heartbeat beside a hostile request: proof that the rest of the server
is still served while one client sends something expensive.

    with Heartbeat(server) as beat:
        ...send the hostile input...
    beat.check()  # every beat answered within the limit

A background thread keeps doing what other users would: read the SMTP
banner on a fresh connection, and send NOOP on an IMAP session that logged
in beforehand. Each beat's latency is recorded; a stalled event loop shows
as a slow or missing beat.
"""

from __future__ import annotations

import socket
import threading
import time

from .imapclient import Raw

LIMIT = 1.0  # seconds a beat may take
INTERVAL = 0.1


class Heartbeat:
    def __init__(self, server, limit: float = LIMIT):
        self.server = server
        self.limit = limit
        self.beats: list[tuple[str, float]] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._imap: Raw | None = None

    def __enter__(self) -> "Heartbeat":
        self._imap = Raw(self.server.ports["IMAP"], timeout=30)
        self._imap.login()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(60)
        try:
            self._imap.close()
        except OSError:
            pass

    def _smtp_banner(self) -> None:
        with socket.create_connection(("127.0.0.1", self.server.smtp_port), timeout=30) as s:
            banner = s.makefile("rb").readline()
            if not banner.startswith(b"220"):
                raise AssertionError(f"SMTP banner {banner!r}")
            s.sendall(b"QUIT\r\n")

    def _imap_noop(self) -> None:
        _, tagged = self._imap.command(b"NOOP")
        if b"OK" not in tagged:
            raise AssertionError(f"IMAP NOOP answered {tagged!r}")

    def _run(self) -> None:
        # At least one round of beats, even when the hostile input is quick.
        first = True
        while first or not self._stop.is_set():
            first = False
            for name, beat in (("smtp banner", self._smtp_banner), ("imap noop", self._imap_noop)):
                start = time.monotonic()
                try:
                    beat()
                except Exception as e:  # noqa: BLE001 - recorded and reported by check()
                    self.failures.append(f"{name}: {e!r}")
                self.beats.append((name, time.monotonic() - start))
            self._stop.wait(INTERVAL)

    @property
    def worst(self) -> float:
        return max((t for _, t in self.beats), default=0.0)

    def check(self) -> None:
        assert not self.failures, f"heartbeat failed: {self.failures}"
        assert self.beats, "no heartbeat ran"
        slow = [(name, round(t, 3)) for name, t in self.beats if t > self.limit]
        assert not slow, f"heartbeat slower than {self.limit} s: {slow}"

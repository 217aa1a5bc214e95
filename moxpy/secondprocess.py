"""The delivery process started under load, and ended when the load is gone (Processes = 0).

A server of two processes from the start (Processes = 2) costs the memory
of two interpreters while it idles. With Processes = 0 on a machine of two
cores or more, the server starts as one process that serves everything,
SMTP included, and watches its own CPU use:

- when it uses SecondProcessLoad cores or more for two seconds on end, it
  starts a delivery process (processes.spawn: a fresh interpreter, given
  the SMTP listening sockets and its ends of the link and of the webapi
  hand-off pair). Once that says it is ready, this process stops accepting
  SMTP connections (those open go on here) and passes about half of the new
  webapi connections on, as in a server of two (processes.py, handoff.py).
  The listening sockets stay open in both processes throughout, so no
  connection is refused or lost while the work moves;
- when both processes together use under half of SecondProcessLoad for
  SecondProcessQuiet seconds on end, this process accepts SMTP connections
  again and passes no more webapi connections on, and tells the delivery
  process to retire: it stops accepting, closes its webapi connections as
  each goes idle, lets its SMTP sessions finish, and ends;
- if the delivery process ends otherwise (it failed, or was killed), this
  process takes its work back at once and says so in the log; the server
  goes on, and starts no other for RESTART_DELAY seconds. A client whose
  connection that process held connects again.

One delivery process at a time: while one is retiring, no other starts.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import time

import msgspec

from . import handoff, processes
from .link import Link

log = logging.getLogger("moxpy.secondprocess")

SAMPLE = 0.5  # seconds between looks at the CPU use
RISE = 2.0  # seconds the load must last for the delivery process to be started
START_TIMEOUT = 60.0  # seconds it may take to say it is ready
STOP_TIMEOUT = 15.0  # seconds it may take to end when told to stop with the server
RESTART_DELAY = 30.0  # seconds after a delivery process ended unasked before another is started

IDLE, STARTING, RUNNING, RETIRING = "idle", "starting", "running", "retiring"

_LOG_LEVEL_NAMES = {logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warn", logging.ERROR: "error",
                    logging.CRITICAL: "fatal"}


class SecondProcess:
    def __init__(self, server):
        """server: the front's Server, whose SMTP listening (listen_smtp, stop_smtp), balancer and link
        this starts and stops with the delivery process."""
        self._server = server
        self.state = IDLE
        self._proc: subprocess.Popen | None = None
        self._handoff: socket.socket | None = None
        self._watching: asyncio.Task | None = None
        self._start_timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task] = set()
        self._not_before = 0.0  # loop time before which no delivery process is started

    @property
    def pid(self) -> int:
        return self._proc.pid if self._proc is not None else 0

    def start(self) -> None:
        self._watching = asyncio.get_running_loop().create_task(self._watch(), name="second process")

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        last, front = loop.time(), time.process_time()
        child_pid, child = 0, 0.0
        busy_since = quiet_since = None
        while True:
            await asyncio.sleep(SAMPLE)
            now, front_now = loop.time(), time.process_time()
            elapsed = max(now - last, 1e-3)
            load = (front_now - front) / elapsed
            last, front = now, front_now
            if self.state in (RUNNING, RETIRING):
                child_now = _cpu_seconds(self.pid)
                if child_pid == self.pid:
                    load += max(child_now - child, 0.0) / elapsed
                child_pid, child = self.pid, child_now
            config = self._server.source.current()
            try:
                if self.state == IDLE:
                    quiet_since = None
                    if load < config.SecondProcessLoad:
                        busy_since = None
                    elif busy_since is None:
                        busy_since = now
                    if busy_since is not None and now - busy_since >= RISE - SAMPLE / 2 and now >= self._not_before:
                        busy_since = None
                        await self._spawn(load)
                elif self.state == RUNNING:
                    busy_since = None
                    if load >= config.SecondProcessLoad / 2:
                        quiet_since = None
                    elif quiet_since is None:
                        quiet_since = now
                    if quiet_since is not None and now - quiet_since >= config.SecondProcessQuiet:
                        quiet_since = None
                        await self._retire()
            except Exception:
                log.exception("starting or stopping the delivery process")

    async def _spawn(self, load: float) -> None:
        server = self._server
        front_end, child_end = socket.socketpair()
        front_handoff, child_handoff = handoff.socket_pair()
        sockets = [(service, ip, port, sock.fileno()) for (service, ip, port), sock in server.smtp_sockets.items()]
        setup = processes.Setup(config=msgspec.msgpack.encode(server.config),
                                current=msgspec.msgpack.encode(server.source.current()),
                                log_level=_LOG_LEVEL_NAMES.get(logging.getLogger().getEffectiveLevel(), "info"),
                                parent=os.getpid(), handoff=child_handoff.fileno(), sockets=sockets)
        try:
            self._proc = processes.spawn(setup, child_end)
        except OSError as e:
            log.error("cannot start the delivery process: %s", e)
            front_end.close()
            front_handoff.close()
            return
        finally:
            child_end.close()
            child_handoff.close()
        self.state = STARTING
        self._handoff = front_handoff
        log.info("starting the delivery process pid=%d load=%.2f", self._proc.pid, load)
        # Before the link reads or writes: the setup comes first (the process reads it before its loop
        # runs), written from a thread so that a large config does not hold the loop.
        try:
            await asyncio.to_thread(front_end.sendall, processes.setup_frame(setup))
        except OSError as e:
            log.error("cannot start the delivery process: setup: %s", e)
        link = Link(front_end, "delivery process")
        server.link = link
        await server.connect(link)
        self._start_timer = asyncio.get_running_loop().call_later(START_TIMEOUT, self._start_timed_out)

    def ready(self) -> None:
        """The link's "ready": the delivery process serves its listeners."""
        if self.state != STARTING:
            return
        self._cancel_start_timer()
        self.state = RUNNING
        self._server.stop_smtp()
        self._server.balancer.attach(self._handoff)
        self._server.moved(rebalance=True)
        log.info("delivery process ready pid=%d", self.pid)

    def _start_timed_out(self) -> None:
        self._start_timer = None
        if self.state == STARTING:
            log.error("the delivery process did not start within %.0f s; stopping it", START_TIMEOUT)
            self._kill()

    async def _retire(self) -> None:
        self.state = RETIRING
        server = self._server
        server.balancer.detach()
        await server.listen_smtp()
        server.moved(rebalance=False)
        log.info("load is low; stopping the delivery process pid=%d", self.pid)
        server.link.send("retire")

    def ended(self) -> None:
        """The link closed: the delivery process is gone, or going. This process serves everything."""
        was, proc = self.state, self._proc
        self.state = IDLE
        if was != RETIRING:
            # It failed, or was killed: not again at once, should it fail at start every time.
            self._not_before = asyncio.get_running_loop().time() + RESTART_DELAY
        self._cancel_start_timer()
        server = self._server
        server.balancer.lost()
        if server.link is not None:
            server.link.close()
            server.link = None
        if self._handoff is not None:
            self._handoff.close()
            self._handoff = None
        self._proc = None
        self._background(self._reap(proc, was))
        if not server.smtp_listening:
            self._background(server.listen_smtp())
        server.moved(rebalance=False)

    async def _reap(self, proc: subprocess.Popen | None, was: str) -> None:
        if proc is None:
            return
        code = await _wait(proc, STOP_TIMEOUT)
        if was == RETIRING and code == 0:
            log.info("delivery process stopped pid=%d", proc.pid)
        else:
            log.error("the delivery process ended pid=%d exit=%s; this process serves everything", proc.pid, code)

    def release(self) -> None:
        """At shutdown, before the queue stops: release what localserve's "timeout" localparts stalled."""
        if self._server.link is not None:
            self._server.link.send("release")

    async def stop(self) -> None:
        """At shutdown: end the delivery process (killed if it takes too long)."""
        if self._watching is not None:
            self._watching.cancel()
        self._cancel_start_timer()
        proc = self._proc
        if proc is None:
            return
        expected = 0
        if self.state in (RUNNING, RETIRING) and self._server.link is not None:
            self._server.link.send("stop")
        else:
            proc.terminate()  # still starting: it may not read the link yet
            expected = -signal.SIGTERM
        code = await _wait(proc, STOP_TIMEOUT)
        if code not in (0, expected):
            log.error("the delivery process ended pid=%d exit=%s", proc.pid, code)
        self._proc = None

    def _kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()

    def _cancel_start_timer(self) -> None:
        if self._start_timer is not None:
            self._start_timer.cancel()
            self._start_timer = None

    def _background(self, coroutine) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


async def _wait(proc: subprocess.Popen, timeout: float) -> int:
    """The exit code of proc once it ended, killing it after timeout seconds."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None:
        if time.monotonic() > deadline:
            log.error("the delivery process did not stop in time; killing it pid=%d", proc.pid)
            proc.kill()
            return await asyncio.to_thread(proc.wait)
        await asyncio.sleep(0.02)
    return proc.returncode


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_seconds(pid: int) -> float:
    """The CPU time process pid has used (user and system), 0 when it cannot be read (not Linux)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS

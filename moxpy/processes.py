"""The server as two processes, so that Python code runs on two cores.

A Python process runs Python on one core at a time. With the Processes
setting at 2 the server forks, after binding every listening socket and
before starting anything; with 0 (the default, on a machine with two cores
or more) it runs as one process and starts the delivery process under
load, in a fresh interpreter (spawn, main; see secondprocess.py):

- the front process keeps the webapi and IMAP listeners, the queue worker
  with its deliveries, and the webhook worker;
- the delivery process takes the SMTP listeners (delivery and submission,
  with the incoming checks and the storing into accounts).

In localserve every Send is delivered through our own SMTP listener, and
this split gives each process about half of that work; it also leaves the
queue's database to one writer but for SMTP submission.

Both open the same data directory: SQLite in WAL mode lets each read what
the other committed, and each database has one writer thread per process.
A socket pair carries what must cross at once (link.py):

- delivery -> front: every account change the delivery process commits
  (a delivered message), announced to the front's IMAP sessions and its
  change webhooks (the front commits every other change itself);
- delivery -> front: a kick after a message submitted over SMTP was
  queued, and one after a webhook about an incoming message was, so the
  worker starts on it now rather than at its next rescan;
- front -> delivery: at shutdown, release SMTP commands stalled by
  localserve's "timeout" localparts (the queue's own deliveries may be
  among them), then stop;
- front -> delivery started on demand: first its Setup (config, log level,
  descriptors), and "retire" when the load is gone; delivery -> front:
  "ready" once it serves its listeners;
- both ways: logins counted by the password throttle, so one throttle
  covers the listeners of both processes;
- delivery -> front: a webapi connection the front passed on closed, and a
  fetch rule made or changed there (the front's collector runs it now);
- either way: forget an account being deleted (the webapi's
  AccountDelete, run by whichever process serves the call), answered once
  the other process has closed it, its writes in flight committed; only
  then are its files removed.

The front accepts the webapi's connections and passes about half of them
to the delivery process, over a second socket pair (handoff.py), so
webapi calls run on both cores.

The delivery process dies with the front (PR_SET_PDEATHSIG): killing the
server's process kills all of it, as with one process. If a forked delivery
process ends on its own, the front stops the server with an error; if one
started on demand does, the front takes its work back.
"""

from __future__ import annotations

import ctypes
import gc
import os
import signal
import socket
import subprocess
import sys

import msgspec

from . import config as configlib
from .store.accounts import Change

_PR_SET_PDEATHSIG = 1  # linux/prctl.h


ON_DEMAND = 0  # one process while the load is light, a second one started under load (secondprocess.py)


def count(config: configlib.Config) -> int:
    """The processes the server runs as: the setting when it is 1 or 2; with 0, ON_DEMAND when this
    process may use two cores or more, else 1."""
    if config.Processes:
        return config.Processes
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return ON_DEMAND if cores >= 2 else 1


# The messages on the link.


class Changes(msgspec.Struct):
    account: str
    changes: list[Change]


class LoginCounted(msgspec.Struct):
    remote_ip: str
    ok: bool


class Forget(msgspec.Struct):
    account: str
    ref: int  # echoed in the Forgotten that answers it


class Forgotten(msgspec.Struct):
    ref: int


def changes_message(account: str, changes: list[Change]) -> Changes:
    # A change's origin (the IMAP session that made it) means nothing in another process.
    return Changes(account, [msgspec.structs.replace(c, origin=None) if c.origin is not None else c
                             for c in changes])


def fork() -> tuple[int, socket.socket, socket.socket]:
    """Fork the delivery process: (its pid, the front's end of the link, its end of the webapi connections'
    pair) in the front, (0, the delivery process's ends) in the delivery process. Call with no other
    thread running."""
    from . import handoff

    front_end, delivery_end = socket.socketpair()
    front_handoff, delivery_handoff = handoff.socket_pair()
    parent = os.getpid()
    # What was loaded so far is shared with the child page by page until written; frozen objects are
    # left alone by the garbage collector, whose bookkeeping would otherwise copy the pages.
    gc.freeze()
    pid = os.fork()
    if pid == 0:
        front_end.close()
        front_handoff.close()
        die_with(parent)
        return 0, delivery_end, delivery_handoff
    delivery_end.close()
    delivery_handoff.close()
    return pid, front_end, front_handoff


class Setup(msgspec.Struct):
    """What a delivery process started on demand is told first, on the link: the server's config as it
    started (msgpack), the config now, the log level, and its descriptors."""

    config: bytes
    current: bytes
    log_level: str
    parent: int
    handoff: int  # descriptor of its end of the webapi connections' pair
    sockets: list[tuple[str, str, int, int]]  # listening: (service, ip, port, descriptor)


def spawn(setup: Setup, link: socket.socket) -> subprocess.Popen:
    """Start a delivery process in a fresh interpreter (safe from a process with threads), passing it
    link (its end of the link), the hand-off pair's end and the listening sockets that setup names; the
    setup itself is sent on the link, before anything else."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    fds = [link.fileno(), setup.handoff] + [fd for *_, fd in setup.sockets]
    # -P: nothing from the working directory shadows a module.
    return subprocess.Popen([sys.executable, "-P", "-m", "moxpy.spawned", str(link.fileno())], pass_fds=fds,
                            stdin=subprocess.DEVNULL, env=env)


def setup_frame(setup: Setup) -> bytes:
    frame = msgspec.msgpack.encode(setup)
    return len(frame).to_bytes(4, "big") + frame


def read_setup(sock: socket.socket) -> Setup:
    size = int.from_bytes(_read_exactly(sock, 4), "big")
    return msgspec.msgpack.decode(_read_exactly(sock, size), type=Setup)


def _read_exactly(sock: socket.socket, n: int) -> bytes:
    data = bytearray()
    while len(data) < n:
        part = sock.recv(n - len(data))
        if not part:
            raise EOFError("the front process closed the link before the setup")
        data += part
    return bytes(data)


def die_with(parent: int) -> None:
    """Have the kernel kill this process when the front ends, however it ends (SIGKILL included)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not Linux: the delivery process stops when the link closes
    if os.getppid() != parent:
        os._exit(1)  # the front ended before the request was in place

"""Run a real `mox.py localserve` in a subprocess on free loopback ports."""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx

from . import storehelp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ADDRESS = "mox@localhost"
PASSWORD = "moxmoxmox"
ADMIN = dict(user="admin", password="moxadmin")  # the admin login of localserve, as keywords of call()


# Under pytest-xdist each worker takes its ports from a range of its own, below the kernel's ephemeral
# ports: a port one worker found free and closed again, for a server to bind a moment later, is then
# never handed to another worker's server meanwhile.
WORKER_PORTS = 3000
_next_port: int | None = None


def free_ports(n: int) -> list[int]:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    socks = []
    try:
        if not worker.startswith("gw"):
            for _ in range(n):
                s = socket.socket()
                s.bind(("127.0.0.1", 0))
                socks.append(s)
        else:
            global _next_port
            low = 12000 + int(worker[2:]) * WORKER_PORTS
            if _next_port is None:
                _next_port = low
            while len(socks) < n:
                port, _next_port = _next_port, low + (_next_port + 1 - low) % WORKER_PORTS
                s = socket.socket()
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    s.close()
                    continue
                socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


STORAGE_VARIABLE = "MOXPY_TEST_STORAGE"


def suite_storage() -> str:
    """The storage backend the servers of this run are on: "postgresql" when MOXPY_TEST_STORAGE says so,
    else "sqlite" (the default)."""
    value = os.environ.get(STORAGE_VARIABLE, "").strip().lower() or "sqlite"
    if value not in ("sqlite", "postgresql"):
        raise RuntimeError(f"{STORAGE_VARIABLE}={value!r}: expected sqlite or postgresql")
    return value


_shared_postgresql = None


def shared_postgresql():
    """The PostgreSQL server of this test process (a pytest worker), started on first use and stopped when
    the process ends; the postgresql fixture hands out the same one when the suite runs on PostgreSQL."""
    global _shared_postgresql
    if _shared_postgresql is None:
        from . import pgserver

        reason = pgserver.missing()
        if reason:
            raise RuntimeError(f"{STORAGE_VARIABLE}=postgresql, but {reason}")
        _shared_postgresql = pgserver.PostgreSQL().start()
        atexit.register(stop_shared_postgresql)
    return _shared_postgresql


def stop_shared_postgresql() -> None:
    global _shared_postgresql
    server, _shared_postgresql = _shared_postgresql, None
    if server is not None:
        server.stop()


def configure_test_storage(config) -> bool:
    """Put a new server's config on the storage of this run: with MOXPY_TEST_STORAGE=postgresql, on a new
    database of the shared PostgreSQL server (True); else leave it as it is, on SQLite (False)."""
    if suite_storage() != "postgresql":
        return False
    config.Storage = "postgresql"
    config.PostgreSQL.DSN = shared_postgresql().new_database()
    return True


def interruptible() -> None:
    """In a server's process before it starts: SIGINT as in a terminal, even when the tests themselves
    run in the background, where the shell has it ignored (and a process that starts with SIGINT ignored
    keeps it so)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class LocalServer:
    """A localserve process with its own directory and ports."""

    def __init__(self, directory: str, configure=None):
        from moxpy.config import save
        from moxpy.provision import localserve

        self.directory = directory
        names = list(localserve.PORTS)
        self.ports = dict(zip(names, free_ports(len(names))))
        config, created = localserve.ensure(directory, self.ports)
        # A directory made now is put on this run's storage; one made before keeps the storage it has.
        changed = created and configure_test_storage(config)
        if configure:
            configure(config)
        if changed or configure:
            save(config)
        self.config = config
        self.proc: subprocess.Popen | None = None
        self.output: list[str] = []

    @property
    def smtp_port(self) -> int:
        return self.ports["SMTP"]

    @property
    def submission_port(self) -> int:
        return self.ports["Submission"]

    @property
    def submissions_port(self) -> int:
        return self.ports["Submissions"]

    @property
    def cert_path(self) -> str:
        """The generated self-signed certificate, for clients to verify TLS against."""
        return os.path.join(self.directory, "config", "localhost.crt")

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['WebAPIHTTP']}/webapi/v0/"

    def start(self, timeout: float = 20.0) -> "LocalServer":
        self.output = []
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(ROOT, "mox.py"), "localserve", "-dir", self.directory],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT, preexec_fn=interruptible,
        )
        ready = threading.Event()

        def read():
            for line in self.proc.stdout:
                self.output.append(line)
                if "localserve ready" in line:
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        deadline = time.monotonic() + timeout
        while not ready.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("localserve did not start:\n" + "".join(self.output))
        return self

    def stop(self, sig=signal.SIGTERM, timeout: float = 10.0) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        finally:
            self.proc = None

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def client(self, user: str = ADDRESS, password: str = PASSWORD) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, auth=(user, password), timeout=30)

    def call(self, method: str, request: dict | str, **kwargs) -> httpx.Response:
        import json

        body = request if isinstance(request, str) else json.dumps(request)
        with self.client(**kwargs) as c:
            return c.post(method, data={"request": body})

    def wait_for(self, predicate, timeout: float = 10.0, interval: float = 0.05):
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting; server output:\n" + "".join(self.output[-40:]))
            time.sleep(interval)

    def messages(self) -> list[dict]:
        """The mox account's messages, by id (see storehelp.messages)."""
        return storehelp.messages(self.config.data_dir(), "mox", self.config)

    def message_file(self, row: dict) -> bytes:
        return storehelp.message_file(self.config.data_dir(), "mox", row, self.config)


def children(pid: int) -> list[int]:
    """The child processes of a process (a server of two: its delivery process)."""
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            found += [int(p) for p in f.read().split()]
    return found


def storage_configure(backend: str, request):
    """The configure of a LocalServer on a storage backend ("sqlite" or "postgresql", a fixture's param):
    None for SQLite; else one that puts it on a new database of the worker's PostgreSQL server."""
    if backend == "sqlite":
        return None
    dsn = request.getfixturevalue("postgresql").new_database()

    def configure(config):
        config.Storage = "postgresql"
        config.PostgreSQL.DSN = dsn

    return configure

"""A real PostgreSQL on loopback for the tests that run against the
PostgreSQL backend: initdb in a temporary directory, its own port and
socket directory, fsync left on (a commit must mean what it means in
production), started in the foreground and stopped at the end. Installed
by dev.py's test setup (Debian package postgresql; its programs are in
/usr/lib/postgresql/VERSION/bin).

PostgreSQL refuses to run as root: run as root, the server runs as the
postgres user the package made, and its directory belongs to it.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid

from .localserve import free_ports


def bindir() -> str:
    """The directory of the newest installed PostgreSQL's programs; "" when there is none."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which("initdb")
    return os.path.dirname(os.path.realpath(initdb)) if initdb else ""


def missing() -> str:
    """Why PostgreSQL cannot run here; "" when it can."""
    if not bindir():
        return "PostgreSQL is not installed (Debian package postgresql)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "run as root, PostgreSQL needs the postgres user, which its Debian package makes"
    return ""


class PostgreSQL:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="moxpy-pg-")
        self.data = os.path.join(self.dir, "data")
        self.sockets = os.path.join(self.dir, "run")
        [self.port] = free_ports(1)
        self.proc: subprocess.Popen | None = None
        self._user = None
        if os.geteuid() == 0:
            self._user = pwd.getpwnam("postgres")
            os.chmod(self.dir, 0o755)
            os.chown(self.dir, self._user.pw_uid, self._user.pw_gid)

    def _as_server_user(self):
        if self._user is not None:
            os.setgid(self._user.pw_gid)
            os.setgroups([])
            os.setuid(self._user.pw_uid)

    def _run(self, *args: str) -> None:
        subprocess.run(list(args), check=True, capture_output=True, preexec_fn=self._as_server_user,
                       cwd=self.dir)

    def start(self) -> "PostgreSQL":
        programs = bindir()
        self._run(os.path.join(programs, "initdb"), "-D", self.data, "-U", "postgres", "-A", "trust",
                  "-E", "UTF8", "--locale", "C.UTF-8" if _has_c_utf8() else "C")
        os.makedirs(self.sockets, exist_ok=True)
        if self._user is not None:
            os.chown(self.sockets, self._user.pw_uid, self._user.pw_gid)
        self.log = open(os.path.join(self.dir, "postgres.log"), "wb")
        return self.resume()

    def halt(self) -> None:
        """Stop the server as an operator's fast shutdown does (its clients' connections are ended), keeping
        its data, for resume."""
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(20)

    def resume(self) -> "PostgreSQL":
        """Run the server (again) on its data directory and port; once it takes connections."""
        programs = bindir()
        self.proc = subprocess.Popen(
            [os.path.join(programs, "postgres"), "-D", self.data, "-p", str(self.port), "-h", "127.0.0.1",
             "-k", self.sockets, "-c", "fsync=on", "-c", "synchronous_commit=on", "-c", "max_connections=300",
             "-c", "shared_buffers=32MB"],
            stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=self._as_server_user, cwd=self.dir)
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(self.dsn("postgres"), connect_timeout=2):
                    break
            except psycopg.OperationalError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("PostgreSQL did not start: " + self.output())
                time.sleep(0.1)
        return self

    def dsn(self, database: str) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={database}"

    def new_database(self) -> str:
        """A new empty database; its DSN."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:16]
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f"create database {name}")
        return self.dsn(name)

    def output(self) -> str:
        try:
            with open(os.path.join(self.dir, "postgres.log"), errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # fast shutdown: SIGTERM would wait for clients to leave
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def _has_c_utf8() -> bool:
    out = subprocess.run(["locale", "-a"], capture_output=True, text=True)
    return any(name.lower() in ("c.utf8", "c.utf-8") for name in out.stdout.split())

"""A SQLite database with one writer thread and group commit.

Every write is a function run inside the writer thread. Writes that arrive
while a commit is in progress are batched: each runs in its own savepoint
(a batch of one needs none), then one COMMIT (one fsync, journal_mode=WAL with synchronous=FULL) makes
all of them durable, and only then are their callers answered. Directories
holding newly written message files are fsync'ed once per batch, before the
commit, so a row never points to a file that could vanish in a crash.

Reads run on the calling thread over a separate read-only connection; with
WAL they see the last committed state and never wait for the writer. Long
reads (query_apart) get a connection of their thread's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import queue as stdqueue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from .errors import storage_full

log = logging.getLogger("moxpy.store.db")

MAX_BATCH = 512
# Seconds a writer waits for the lock held by another process's writer before its batch fails.
LOCK_TIMEOUT = 10.0


class DatabaseClosed(sqlite3.ProgrammingError):
    """A write to a database that was closed (such as the index of an account removed meanwhile)."""


class _Job:
    __slots__ = ("fn", "future", "loop", "sync_dirs")

    def __init__(self, fn, future, loop, sync_dirs):
        self.fn = fn
        self.future = future
        self.loop = loop
        self.sync_dirs = sync_dirs


def connect(path: str, *, readonly: bool = False) -> sqlite3.Connection:
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)
    else:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("pragma busy_timeout = 10000")
    if not readonly:
        conn.execute("pragma journal_mode = wal")
        conn.execute("pragma synchronous = full")
    conn.execute("pragma foreign_keys = on")
    return conn


@contextlib.contextmanager
def _schema_lock(path: str):
    """Held while creating or upgrading tables, so that the processes of one server opening the same
    database do it one after the other: an flock on the database's directory. Not on the database file:
    closing any descriptor of that file would drop SQLite's own (POSIX record) locks on it."""
    fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class GroupCommit:
    """What the databases of both engines share (Database here, pg.db.PgDatabase): write functions queued
    for one writer thread, taken in batches of up to MAX_BATCH, each batch committed by the engine's _commit
    and its callers answered after it; close once the queued ones are done. A subclass sets path and
    readonly, calls _init_writes first, opens _reader, and calls _launch with the writer's connection."""

    def _init_writes(self) -> None:
        self._jobs: stdqueue.SimpleQueue[_Job | None] = stdqueue.SimpleQueue()
        self._thread: threading.Thread | None = None
        # Set by close, under the lock, so that no write is queued behind the writer's end, where it would
        # wait for ever: a write after close is an error at once.
        self._closed = False
        self._closing = threading.Lock()
        self._local = threading.local()  # each thread's connection for query_apart
        self._apart: list[Any] = []
        self._apart_lock = threading.Lock()

    def _launch(self, conn: Any, name: str) -> None:
        self._writer_conn = conn
        self._thread = threading.Thread(target=self._run, name=f"writer {name}", daemon=True)
        self._thread.start()

    async def write(self, fn: Callable[[Any], Any], sync_dirs: Iterable[str] = ()) -> Any:
        """Run fn(conn) in a transaction in the writer thread; return its result once committed. (On
        PostgreSQL fn may be run again after a deadlock with another node: it must only touch the database.)"""
        if self.readonly:
            raise PermissionError(f"{self.path} is open read-only")
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue(_Job(fn, future, loop, tuple(sync_dirs)))
        return await future

    def _queue(self, job: _Job) -> None:
        with self._closing:
            if self._closed:
                raise DatabaseClosed(f"{self.path} is closed")
            self._jobs.put(job)

    def write_sync(self, fn: Callable[[Any], Any]) -> Any:
        """Like write, for command-line tools that run without an event loop."""
        if self.readonly:
            raise PermissionError(f"{self.path} is open read-only")
        done = threading.Event()
        box: dict[str, Any] = {}

        class _Sync:
            def set(self, result=None, error=None):
                box["result"], box["error"] = result, error
                done.set()

        self._queue(_Job(fn, _Sync(), None, ()))
        done.wait()
        if box["error"] is not None:
            raise box["error"]
        return box["result"]

    def close(self) -> None:
        """Close once the writes queued so far are committed; writes after it raise DatabaseClosed."""
        with self._closing:
            if self._closed:
                return
            self._closed = True
            if self._thread is not None:
                self._jobs.put(None)
        if self._thread is not None:
            self._thread.join()
        self._reader.close()
        with self._apart_lock:
            for conn in self._apart:
                conn.close()
            self._apart.clear()

    def _run(self) -> None:
        conn = self._writer_conn
        stop = False
        while not stop:
            job = self._jobs.get()
            if job is None:
                break
            batch = [job]
            while len(batch) < MAX_BATCH:
                try:
                    more = self._jobs.get_nowait()
                except stdqueue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            conn = self._commit(conn, batch) or conn  # a new connection when the engine made one
        conn.close()

    def _commit(self, conn: Any, batch: list[_Job]) -> Any:
        raise NotImplementedError


class Database(GroupCommit):
    dialect = "sqlite"  # see dialect.py

    def __init__(self, path: str, schema: Callable[[sqlite3.Connection], None] | None = None, *,
                 readonly: bool = False):
        """Open (creating it) a database, schema(conn) making or upgrading its tables in one transaction
        under a lock; readonly: only the read connection, for tools that look at a database a server is
        writing."""
        self.path = path
        self.readonly = readonly
        self._init_writes()
        conn = None
        if not readonly:
            with _schema_lock(path):
                # Inside the lock too: making a new database WAL takes a lock SQLite does not wait for.
                conn = connect(path)
                if schema is not None:
                    try:
                        conn.execute("begin immediate")
                        schema(conn)
                        conn.execute("commit")
                    except BaseException:
                        conn.close()  # rolls back what was begun
                        raise
            conn.execute("pragma busy_timeout = 0")  # _begin waits for the write lock, in shorter steps
        self._reader = connect(path, readonly=True)
        if conn is not None:
            self._launch(conn, os.path.basename(path))

    # Reads.

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        return self._reader.execute(sql, tuple(params)).fetchall()

    def query_one(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Row | None:
        return self._reader.execute(sql, tuple(params)).fetchone()

    def query_apart(self, sql: str, params: Iterable[Any] = (),
                    functions: dict[str, tuple[int, Callable]] | None = None) -> list[sqlite3.Row]:
        """Like query, over a read connection of the calling thread's own, with Python functions callable from
        the SQL (name: (number of arguments, function)).

        For reads that take long, such as a search reading message files in a function: they may run in a
        worker thread without holding up reads on the shared connection, or sharing its snapshot."""
        conn = getattr(self._local, "reader", None)
        if conn is None:
            conn = self._local.reader = connect(self.path, readonly=True)
            with self._apart_lock:
                self._apart.append(conn)
        functions = functions or {}
        for name, (narg, fn) in functions.items():
            conn.create_function(name, narg, fn)
        try:
            return conn.execute(sql, tuple(params)).fetchall()
        finally:
            for name, (narg, _) in functions.items():
                conn.create_function(name, narg, None)

    # Writes (GroupCommit's), each batch committed here.

    def _commit(self, conn: sqlite3.Connection, batch: list[_Job]) -> None:
        if len(batch) == 1:
            self._commit_one(conn, batch[0])
            return
        results: list[tuple[_Job, Any, BaseException | None]] = []
        try:
            _begin(conn)
            for job in batch:
                conn.execute("savepoint job")
                try:
                    result = job.fn(conn)
                except BaseException as e:  # the job's own error goes back to its caller
                    conn.execute("rollback to job")
                    conn.execute("release job")
                    results.append((job, None, e))
                else:
                    conn.execute("release job")
                    results.append((job, result, None))
            dirs = {d for job, _, error in results if error is None for d in job.sync_dirs}
            for d in dirs:
                fsync_dir(d)
            conn.execute("commit")
        except BaseException as e:
            _abandon(conn, e)
            results = [(job, None, e) for job in batch]
        for job, result, error in results:
            _deliver(job, result, error)

    def _commit_one(self, conn: sqlite3.Connection, job: _Job) -> None:
        """A batch of one job: the transaction is the job's alone, so it needs no savepoint (each statement
        is one more wait for the interpreter lock in this thread)."""
        try:
            _begin(conn)
            try:
                result = job.fn(conn)
            except BaseException as e:  # the job's own error goes back to its caller
                if conn.in_transaction:
                    conn.execute("rollback")
                _deliver(job, None, e)
                return
            for d in set(job.sync_dirs):
                fsync_dir(d)
            conn.execute("commit")
        except BaseException as e:
            _abandon(conn, e)
            _deliver(job, None, e)
            return
        _deliver(job, result, None)


def _abandon(conn: sqlite3.Connection, error: BaseException) -> None:
    """After a batch's transaction failed (not one of its jobs): log why and roll it back."""
    if storage_full(error):
        log.warning("commit failed, storage full: %s", error)  # expected, not a bug: no traceback
    else:
        log.exception("commit failed")
    try:
        conn.execute("rollback")
    except sqlite3.Error:
        pass


def _begin(conn: sqlite3.Connection) -> None:
    """Start a write transaction, waiting while the other process of the server writes.

    In WAL mode only taking the write lock can be busy: the statements of a transaction that holds it
    never wait. SQLite's own wait sleeps in steps of up to 100 ms, and two writers that commit
    back to back under load then wait out each other's steps, tens of milliseconds for a lock held
    for a few; this one tries again after at most 2 ms.
    """
    deadline = time.monotonic() + LOCK_TIMEOUT
    delay = 0.0001
    while True:
        try:
            conn.execute("begin immediate")
            return
        except sqlite3.OperationalError as e:
            if getattr(e, "sqlite_errorcode", None) != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.002)


def _deliver(job: _Job, result: Any, error: BaseException | None) -> None:
    if job.loop is None:
        job.future.set(result, error)
        return

    def resolve():
        if job.future.done():
            return
        if error is not None:
            job.future.set_exception(error)
        else:
            job.future.set_result(result)

    try:
        job.loop.call_soon_threadsafe(resolve)
    except RuntimeError:
        pass  # loop closed: nobody is waiting any more

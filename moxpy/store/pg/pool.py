"""The read connections of a process to a PostgreSQL database: one pool
(psycopg_pool) per connection string, shared by every database object
over it (the server database and each account's schema), opened by the
first and closed when the last is closed.

A read borrows a connection for one statement in autocommit, so it sees
the last committed state and never waits for a writer. Accounts keep
their tables in schemas of their own: before a read for another schema
than the connection's last, the connection's search_path is set (one
more round trip, only on a change).

Reads made on the event loop's thread never wait for the pool: they have
a connection of their own (one per process and connection string, as only
that thread uses it), so a burst of long reads in worker threads cannot
stall the loop. Other threads borrow from the pool, and connect for
themselves when it has nothing for them within QUICK seconds.

A pool left open across a fork (none should be: the server opens its
databases after it) is never used nor closed by the child, whose
connections would be the parent's.
"""

from __future__ import annotations

import asyncio
import os
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool, PoolTimeout

# Read connections a process keeps at most per database (PostgreSQL.ReadConnections).
SIZE = 8
# Seconds a read waits for a connection of the pool before it connects itself (see Readers.connection).
QUICK = 1.0
# Seconds a read waits at most for a connection.
TIMEOUT = 10.0
# Seconds an unused connection above the first stays open.
IDLE = 60.0
CONNECTION = {"autocommit": True, "connect_timeout": 10}


class _Shared:
    def __init__(self, pool: ConnectionPool, prepare: Callable[[psycopg.Connection], None], size: int):
        self.pool = pool
        self.prepare = prepare
        self.spares = threading.BoundedSemaphore(size)  # connections of reads' own, when the pool has none
        self.users = 0
        # The search_path each connection was last set to (None: the one of the connection string).
        self.paths: weakref.WeakKeyDictionary[psycopg.Connection, str | None] = weakref.WeakKeyDictionary()
        self._loop_conn: psycopg.Connection | None = None

    def loop_connection(self, dsn: str) -> psycopg.Connection:
        """The event loop thread's connection (only that thread uses it), made again once it broke."""
        conn = self._loop_conn
        if conn is None or conn.closed or conn.broken:
            if conn is not None:
                conn.close()
            conn = self._loop_conn = psycopg.connect(dsn, **CONNECTION)
            self.prepare(conn)
        return conn

    def close(self) -> None:
        self.pool.close()
        if self._loop_conn is not None:
            self._loop_conn.close()


_pools: dict[str, _Shared] = {}
_lock = threading.Lock()
_inherited: list[_Shared] = []  # a parent's pools, kept from being finalized in a forked child


def _forget_after_fork() -> None:
    _inherited.extend(_pools.values())
    _pools.clear()


os.register_at_fork(after_in_child=_forget_after_fork)


class Readers:
    """A database object's share of the pool for dsn, reading in schema search_path (None: the connection
    string's own). prepare(conn) is run on each new connection; size bounds the pool when it is made."""

    def __init__(self, dsn: str, prepare: Callable[[psycopg.Connection], None], search_path: str | None = None,
                 size: int = SIZE):
        self.dsn = dsn
        self.search_path = search_path
        with _lock:
            shared = _pools.get(dsn)
            if shared is None:
                # Connected once here first: when the server cannot be reached, its reason, at once (the
                # pool would only time out).
                psycopg.connect(dsn, **CONNECTION).close()
                pool = ConnectionPool(dsn, min_size=1, max_size=max(1, size), open=False, configure=prepare,
                                      kwargs=CONNECTION, timeout=TIMEOUT, max_idle=IDLE, name="moxpy-readers")
                pool.open(wait=True, timeout=TIMEOUT)
                shared = _pools[dsn] = _Shared(pool, prepare, max(1, size))
            shared.users += 1
        self._shared: _Shared | None = shared

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A connection of the pool for the length of the with, its search_path this reader's.

        When none comes within QUICK seconds (all in use, or the pool cannot connect: the database is down
        or restarted, and the pool waits longer and longer between attempts), a connection of this read's
        own, closed after it: so a database that is down is an error at once, with its reason, and one back
        up is read from at once. At most the pool's size of those are open at a time."""
        shared = self._shared
        if shared is None:
            raise psycopg.InterfaceError("the database is closed")
        if _on_event_loop():
            # The event loop's thread never waits for the pool: it has a connection of its own.
            conn = shared.loop_connection(self.dsn)
            self._use(shared, conn)
            yield conn
            return
        try:
            conn = shared.pool.getconn(timeout=QUICK)
        except PoolTimeout:
            if not shared.spares.acquire(timeout=TIMEOUT):
                raise PoolTimeout(f"no read connection free within {TIMEOUT:.0f} seconds") from None
            try:
                conn = psycopg.connect(self.dsn, **CONNECTION)
                try:
                    shared.prepare(conn)
                    self._use(shared, conn)
                    yield conn
                finally:
                    conn.close()
            finally:
                shared.spares.release()
            return
        try:
            self._use(shared, conn)
            yield conn
        finally:
            shared.pool.putconn(conn)

    def _use(self, shared: _Shared, conn: psycopg.Connection) -> None:
        """Set conn's search_path to this reader's, unless it was so already (a new one has its connection
        string's)."""
        if shared.paths.get(conn) == self.search_path:
            return
        if self.search_path is None:
            conn.execute("reset search_path")
        else:
            conn.execute(sql.SQL("set search_path to {}").format(sql.Identifier(self.search_path)))
        shared.paths[conn] = self.search_path

    def close(self) -> None:
        with _lock:
            shared, self._shared = self._shared, None
            if shared is None:
                return
            shared.users -= 1
            if shared.users or _pools.get(self.dsn) is not shared:
                return
            del _pools[self.dsn]
        shared.close()


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True

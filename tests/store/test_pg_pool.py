"""The pool of read connections a process shares over one PostgreSQL database
(moxpy/store/pg/pool.py): reads of one thread do not wait for another's,
every account reads its own schema over the shared connections, the pool
stays within its size whatever the number of accounts, a connection the
server cut is replaced without the read failing, and the last database
closed closes the pool."""

import asyncio
import threading
import time

import psycopg
import pytest

from moxpy import config as configlib
from moxpy.store import storage_unavailable
from moxpy.store.pg import pool
from moxpy.store.pg.accounts import PgStore
from moxpy.store.pg.serverdb import PgServerDatabase


def message(subject: str) -> bytes:
    return f"From: a@example.org\r\nSubject: {subject}\r\n\r\nbody\r\n".encode()


@pytest.fixture
def observer(pg_dsn):
    """A connection of the test's own to the database, to look at the others."""
    conn = psycopg.connect(pg_dsn, autocommit=True)
    yield conn
    conn.close()


def backends(observer: psycopg.Connection) -> list[tuple[int, str]]:
    """(pid, last statement) of the other connections to the observer's database."""
    return observer.execute("select pid, query from pg_stat_activity where datname = current_database() "
                            "and pid != pg_backend_pid()").fetchall()


def deliver(store: PgStore, name: str, subject: str) -> None:
    asyncio.run(store.account(name).deliver(message(subject)))


def test_a_read_held_up_in_the_database_does_not_hold_up_the_reads_of_other_threads(pg_dsn, observer):
    store = PgStore(pg_dsn)
    try:
        deliver(store, "mjl", "one")
        account = store.account("mjl")
        held = held_read(account._storage.db, observer)
        # With one shared read connection, this would wait for the first read, and so for ever.
        done = []
        other = threading.Thread(target=lambda: done.append(account.messages(account.mailbox("Inbox").id, [1])))
        other.start()
        other.join(10)
        assert done and done[0][0].subject == "one"
        assert held.is_alive()
        observer.execute("select pg_advisory_unlock(4242)")
        held.join(10)
        assert not held.is_alive()
    finally:
        store.close()


def test_accounts_sharing_one_read_connection_each_read_their_own_schema(pg_dsn):
    store = PgStore(pg_dsn, readers=1)
    serverdb = PgServerDatabase(pg_dsn, readers=1)
    try:
        names = [f"user{i}" for i in range(4)]
        for name in names:
            deliver(store, name, f"for {name}")
        for _ in range(3):  # in turns, so that the one connection changes schema at each read
            for name in names:
                account = store.account(name)
                [m] = account.messages(account.mailbox("Inbox").id, [1])
                assert m.subject == f"for {name}"
                assert serverdb.db.query_one("select count(*) from queue")[0] == 0
    finally:
        serverdb.close()
        store.close()


def test_many_accounts_open_keep_the_reads_within_the_pool_size(pg_dsn, observer):
    store = PgStore(pg_dsn, readers=3)
    try:
        names = [f"user{i}" for i in range(12)]
        for name in names:
            deliver(store, name, name)

        def read(name):
            account = store.account(name)
            for _ in range(20):
                account.messages(account.mailbox("Inbox").id, [1])

        threads = [threading.Thread(target=read, args=(name,)) for name in names]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        connections = len(backends(observer))
        # One writer per account, one listener for other nodes' changes, and at most 3 readers.
        assert connections <= len(names) + 1 + 3, connections
    finally:
        store.close()


def test_a_read_connection_the_server_cut_is_replaced_without_the_read_failing(pg_dsn, observer):
    store = PgStore(pg_dsn, readers=1)
    try:
        deliver(store, "mjl", "kept")
        account = store.account("mjl")
        inbox = account.mailbox("Inbox").id
        account.messages(inbox, [1])
        readers = {pid for pid, query in backends(observer) if query.startswith("select") and "messages" in query}
        assert len(readers) == 1
        for pid in readers:
            observer.execute("select pg_terminate_backend(%s)", (pid,))
        [m] = account.messages(inbox, [1])
        assert m.subject == "kept"
    finally:
        store.close()


def test_closing_the_last_database_closes_its_read_connections(pg_dsn, observer):
    store = PgStore(pg_dsn)
    serverdb = PgServerDatabase(pg_dsn)
    deliver(store, "mjl", "one")
    assert backends(observer)
    store.close()
    assert serverdb.db.query_one("select 1")[0] == 1  # the pool stays for the server database
    serverdb.close()
    for _ in range(100):
        if not backends(observer):
            break
        time.sleep(0.05)
    assert backends(observer) == []


def test_the_pool_size_setting_is_checked():
    config = configlib.Config(Storage="postgresql", PostgreSQL=configlib.PostgreSQL(DSN="dbname=mox", ReadConnections=0))
    with pytest.raises(configlib.ConfigError, match="PostgreSQL.ReadConnections: 0 must be 1 or more"):
        configlib.validate(config)


def held_read(db, observer: psycopg.Connection) -> threading.Thread:
    """A read in a thread of its own, waiting in the database on an advisory lock the observer takes; once
    it waits."""
    observer.execute("select pg_advisory_lock(4242)")
    held = threading.Thread(target=db.query, args=("select pg_advisory_lock_shared(4242)",))
    held.start()
    for _ in range(200):
        if observer.execute("select count(*) from pg_stat_activity where wait_event_type = 'Lock' and query = %s",
                            ("select pg_advisory_lock_shared(4242)",)).fetchone()[0]:
            return held
        time.sleep(0.05)
    raise AssertionError("the read did not start")


def test_a_read_on_the_event_loop_never_waits_for_the_pool(pg_dsn, observer, monkeypatch):
    monkeypatch.setattr(pool, "QUICK", 60.0)  # a read waiting for the pool would wait this long
    store = PgStore(pg_dsn, readers=1)
    try:
        deliver(store, "mjl", "one")
        account = store.account("mjl")
        held = held_read(account._storage.db, observer)  # the pool's one connection

        async def read():
            return account.messages(account.mailbox("Inbox").id, [1])

        done = []
        loop = threading.Thread(target=lambda: done.append(asyncio.run(read())))
        loop.start()
        loop.join(10)
        assert done and done[0][0].subject == "one"
        observer.execute("select pg_advisory_unlock(4242)")
        held.join(10)
    finally:
        store.close()


@pytest.fixture
def own_postgresql(postgresql):
    """A PostgreSQL server of the test's own, to stop and start again."""
    from .. import pgserver

    server = pgserver.PostgreSQL().start()
    yield server
    server.stop()


def test_while_the_database_is_down_reads_and_writes_fail_at_once_and_after_it_they_work_at_once(own_postgresql):
    dsn = own_postgresql.new_database()
    store = PgStore(dsn)
    try:
        deliver(store, "mjl", "before")
        account = store.account("mjl")
        inbox = account.mailbox("Inbox").id
        account.messages(inbox, [1])  # a connection of the pool in use
        own_postgresql.halt()

        async def on_loop():
            return account.messages(inbox, [1])

        failures = []
        for attempt in (lambda: account.messages(inbox, [1]), lambda: asyncio.run(on_loop()),
                        lambda: deliver(store, "mjl", "while down")):
            started = time.monotonic()
            with pytest.raises(psycopg.OperationalError) as raised:
                attempt()
            failures.append((storage_unavailable(raised.value), time.monotonic() - started < pool.TIMEOUT))
        assert failures == [(True, True)] * 3

        own_postgresql.resume()
        # At once: no read or write fails on a connection the restart ended, nor waits for the pool to retry.
        deliver(store, "mjl", "after")
        assert [m.subject for m in account.messages(inbox, [1, 2])] == ["before", "after"]
        assert [m.subject for m in asyncio.run(on_loop())] == ["before"]
    finally:
        store.close()

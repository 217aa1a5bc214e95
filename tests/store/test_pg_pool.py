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
    lock = observer
    try:
        deliver(store, "mjl", "one")
        account = store.account("mjl")
        lock.execute("select pg_advisory_lock(4242)")
        held = threading.Thread(target=account._storage.db.query, args=("select pg_advisory_lock_shared(4242)",))
        held.start()
        waiting = "select pg_advisory_lock_shared(4242)"
        for _ in range(200):  # until the first read waits on the lock in the database
            if lock.execute("select count(*) from pg_stat_activity where wait_event_type = 'Lock' and query = %s",
                            (waiting,)).fetchone()[0]:
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the first read did not start")
        # With one shared read connection, this would wait for the first read, and so for ever.
        done = []
        other = threading.Thread(target=lambda: done.append(account.messages(account.mailbox("Inbox").id, [1])))
        other.start()
        other.join(10)
        assert done and done[0][0].subject == "one"
        assert held.is_alive()
        lock.execute("select pg_advisory_unlock(4242)")
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

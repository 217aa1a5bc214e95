"""Versioned schema migrations (moxpy/store/migrations.py), on both backends: a new database records every
migration, an older one gets only those it lacks (its rows kept), one from before versions is brought up to
date, one from a newer version is refused and left as it was, read-only openings apply nothing, and a
server that cannot use its database says so in one line."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import time

import pytest

from moxpy.store import migrations
from moxpy.store.migrations import Migrations, SchemaVersionError
from moxpy.store.sqlite import schema, serverdb

from .. import storehelp
from ..localserve import ROOT, LocalServer
from ..serverdbhelp import open_server_database
from ..storehelp import open_test_store

SERVER_STEPS = [(m.version, m.name) for m in serverdb.MIGRATIONS.steps]
ACCOUNT_STEPS = [(m.version, m.name) for m in schema.MIGRATIONS.steps]
LEASE_COLUMNS = {"lease_node", "lease_until"}


class Raw:
    """A connection of its own to the database a test runs on (storage: "" for SQLite's under a directory, else
    a DSN; PostgreSQL's takes SQLite's "?" placeholders too), outside the stores: to make a database look as
    another version left it."""

    def __init__(self, storage: str, sqlite_path: str, pg_schema: str | None = None):
        if storage:
            from moxpy.store.pg.accounts import schema_dsn
            from moxpy.store.pg.db import connect

            self.conn = connect(schema_dsn(storage, pg_schema) if pg_schema else storage)
        else:
            self.conn = sqlite3.connect(sqlite_path, isolation_level=None)
        self.pg = bool(storage)

    def run(self, *statements: tuple[str, tuple] | str) -> None:
        self.conn.execute("begin")
        for statement in statements:
            sql, params = (statement, ()) if isinstance(statement, str) else statement
            self.conn.execute(sql, params)
        self.conn.execute("commit")

    def rows(self, sql: str) -> list[tuple]:
        return [tuple(r) for r in self.conn.execute(sql).fetchall()]

    def columns(self, table: str) -> set[str]:
        if self.pg:
            return {r[0] for r in self.conn.execute(
                "select column_name from information_schema.columns where table_schema = current_schema() "
                "and table_name = ?", (table,)).fetchall()}
        return {r[1] for r in self.conn.execute(f"pragma table_info({table})")}

    def close(self) -> None:
        self.conn.close()


def server_raw(tmp_path, storage: str) -> Raw:
    return Raw(storage, os.path.join(tmp_path, "mox.db"))


def account_raw(tmp_path, storage: str, name: str = "test") -> Raw:
    pg_schema = None
    if storage:
        from moxpy.store.pg.accounts import schema_name

        pg_schema = schema_name(name)
    return Raw(storage, os.path.join(tmp_path, "accounts", name, "index.db"), pg_schema)


def test_migrations_are_numbered_from_one_in_order():
    assert [v for v, _ in SERVER_STEPS] == [1, 2] and [v for v, _ in ACCOUNT_STEPS] == [1]
    with pytest.raises(ValueError, match="numbered"):
        Migrations("test", [serverdb.MIGRATIONS.steps[1]])


def test_a_new_database_records_every_migration_with_the_same_numbers_on_both_backends(tmp_path, storage):
    db = open_server_database(tmp_path, storage)
    assert migrations.applied(db.db) == SERVER_STEPS
    db.close()
    store = open_test_store(tmp_path, storage)
    account = store.account("test")
    assert migrations.applied(account.db) == ACCOUNT_STEPS
    store.close()

    raw = server_raw(tmp_path, storage)
    assert LEASE_COLUMNS <= raw.columns("queue") and LEASE_COLUMNS <= raw.columns("webhooks")
    raw.close()


def test_an_older_database_gets_only_the_migrations_it_lacks_and_keeps_its_rows(tmp_path, storage):
    """A server database at version 1 (before the lease columns), with a queued entry in it."""
    raw = server_raw(tmp_path, storage)
    first = Migrations("server database", serverdb.MIGRATIONS.steps[:1])
    raw.conn.execute("begin")
    first.upgrade(raw.conn, "the test's database")
    raw.conn.execute("commit")
    assert migrations.applied(raw.conn) == SERVER_STEPS[:1]
    assert not LEASE_COLUMNS & raw.columns("queue")
    (applied_1,) = raw.rows("select applied from schema_migrations where version = 1")[0]
    raw.run(("insert into queue (account, created, sender, mail_from, rcpt_to, rcpt_domain, path, size, "
             "require_tls, next_attempt) values ('mox', 1, 'a@x', 'a@x', 'b@y', 'y', 'p', 3, 0, 5)", ()))
    raw.close()

    db = open_server_database(tmp_path, storage)
    assert migrations.applied(db.db) == SERVER_STEPS
    assert [(r["rcpt_to"], r["lease_node"], r["lease_until"]) for r in db.db.query("select * from queue")] == \
        [("b@y", "", 0)]
    db.close()
    raw = server_raw(tmp_path, storage)
    assert raw.rows("select applied from schema_migrations where version = 1") == [(applied_1,)]  # not run again
    raw.close()


def test_an_account_from_before_versions_is_brought_up_to_date(tmp_path, storage):
    store = open_test_store(tmp_path, storage)
    account = store.account("test")
    asyncio.run(account.deliver(b"From: a@example.org\r\nSubject: kept\r\n\r\nhello\r\n"))
    store.close()
    raw = account_raw(tmp_path, storage)
    raw.run("drop table schema_migrations")
    raw.close()

    store = open_test_store(tmp_path, storage)
    account = store.account("test")
    assert migrations.applied(account.db) == ACCOUNT_STEPS
    assert [r["subject"] for r in account.db.query("select subject from messages")] == ["kept"]
    store.close()


@pytest.mark.parametrize("kind", ["server", "account"])
def test_a_database_of_a_newer_version_is_refused_and_left_as_it_was(tmp_path, storage, kind):
    if kind == "server":
        open_server_database(tmp_path, storage).close()
        raw = server_raw(tmp_path, storage)
    else:
        store = open_test_store(tmp_path, storage)
        store.account("test")
        store.close()
        raw = account_raw(tmp_path, storage)
    raw.run(("insert into schema_migrations (version, name, applied) values (99, 'from the future', ?)",
             (time.time(),)))
    before = raw.rows("select version, name from schema_migrations order by version")
    raw.close()

    with pytest.raises(SchemaVersionError, match="schema version 99, newer than this program's") as refused:
        if kind == "server":
            open_server_database(tmp_path, storage)
        else:
            open_test_store(tmp_path, storage).account("test")
    assert "\n" not in str(refused.value)
    if kind == "account":
        with pytest.raises(SchemaVersionError, match="schema version 99"):
            open_test_store(tmp_path, storage, readonly=True).account("test")

    raw = server_raw(tmp_path, storage) if kind == "server" else account_raw(tmp_path, storage)
    assert raw.rows("select version, name from schema_migrations order by version") == before
    raw.close()


def test_a_read_only_opening_applies_nothing_and_refuses_an_older_index(tmp_path, storage):
    store = open_test_store(tmp_path, storage)
    store.account("test")
    store.close()
    reader = open_test_store(tmp_path, storage, readonly=True)
    assert migrations.version(reader.account("test").db) == schema.MIGRATIONS.latest
    reader.close()

    raw = account_raw(tmp_path, storage)
    raw.run("delete from schema_migrations")
    raw.close()
    reader = open_test_store(tmp_path, storage, readonly=True)
    with pytest.raises(SchemaVersionError, match="older than this program's .*start the server once"):
        reader.account("test")
    reader.close()
    raw = account_raw(tmp_path, storage)
    assert raw.rows("select count(*) from schema_migrations") == [(0,)]
    raw.close()


@pytest.mark.sqlite_only
def test_a_server_whose_database_is_newer_says_so_in_one_line_and_starts_once_it_is_not(tmp_path):
    srv = LocalServer(str(tmp_path / "srv"))
    srv.start()
    assert srv.stop() == 0
    path = os.path.join(srv.config.data_dir(), "mox.db")
    with sqlite3.connect(path) as conn:
        conn.execute("insert into schema_migrations (version, name, applied) values (7, 'newer', 0)")
    conn.close()

    out = subprocess.run([sys.executable, os.path.join(ROOT, "mox.py"), "localserve", "-dir", srv.directory],
                         capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 1
    errors = [line for line in out.stderr.splitlines() if line.startswith("mox:")]
    assert errors == [f"mox: cannot start: {path} has schema version 7, newer than this program's "
                      f"{serverdb.MIGRATIONS.latest}: it was written by a newer version, run that one "
                      "(or restore a backup made before it)"], out.stderr
    assert "Traceback" not in out.stdout + out.stderr

    with sqlite3.connect(path) as conn:
        conn.execute("delete from schema_migrations where version = 7")
    conn.close()
    srv.start()
    assert srv.stop() == 0

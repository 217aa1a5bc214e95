"""Versioned schema migrations, the same numbers on SQLite and PostgreSQL.

Each kind of database (the server database, an account's index) has one
numbered list of migrations, run by both backends: the stores write their
SQL once for both engines (pg/db.py translates it). A database records
what was applied to it in schema_migrations, a row per version (its
number, its name, when). Opening a database for writing applies, in the
opener's transaction and under its lock (a file lock on SQLite, an
advisory lock on PostgreSQL), the migrations it has not had, in order,
with their rows: all of them or none.

Migration 1 of each kind is the schema as it stood when versions began,
written to bring up to date also a database made before then (it creates
what is missing and adds the columns that are), so such a database is
upgraded by it like any other. Every later migration runs once and may
rely on the ones before it. An applied migration is never changed: a
change to the schema is the next number.

A database whose version is above what this program knows was written by
a newer version: it is refused, not touched. Read-only openings (tools
looking at the data of a running server) apply nothing and refuse a
database at any other version than this program's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from . import dialect

TABLE = "schema_migrations"


class SchemaVersionError(Exception):
    """A database at a schema version this program cannot use; one line for the operator."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    apply: Callable[..., None]  # (conn, *what the kind's migrations need) in the open transaction


class Migrations:
    """The numbered migrations of one kind of database."""

    def __init__(self, kind: str, steps: Sequence[Migration]):
        if [m.version for m in steps] != list(range(1, len(steps) + 1)):
            raise ValueError(f"migrations of the {kind} must be numbered 1, 2, 3, ... in order")
        self.kind = kind
        self.steps = tuple(steps)

    @property
    def latest(self) -> int:
        return len(self.steps)

    def upgrade(self, conn: Any, name: str, *args: Any) -> list[int]:
        """Apply to the database of conn (in a transaction, under the opener's lock) the migrations it has not
        had, passing them args; the versions applied. name: the database, for the error of a newer one."""
        conn.execute(f"""
            create table if not exists {TABLE} (
                version integer primary key,
                name text not null,
                applied real not null
            )""")
        current = version(conn)
        if current > self.latest:
            raise SchemaVersionError(
                f"{name} has schema version {current}, newer than this program's {self.latest}: "
                f"it was written by a newer version, run that one (or restore a backup made before it)")
        applied = []
        for step in self.steps[current:]:
            step.apply(conn, *args)
            conn.execute(f"insert into {TABLE} (version, name, applied) values (?, ?, ?)",
                         (step.version, step.name, time.time()))
            applied.append(step.version)
        return applied

    def check(self, db: Any, name: str) -> None:
        """For a read-only opening (db: a Database or PgDatabase): refuse a database at another version."""
        current = version(db)
        if current > self.latest:
            raise SchemaVersionError(f"{name} has schema version {current}, newer than this program's "
                                     f"{self.latest}: use the version of the program that wrote it")
        if current < self.latest:
            raise SchemaVersionError(f"{name} has schema version {current}, older than this program's "
                                     f"{self.latest}: start the server once to bring it up to date")


def version(conn_or_db: Any) -> int:
    """The schema version of a database (a write function's connection, or a Database for reading): the
    highest applied migration, 0 for a database made before versions (or a new one)."""
    read = _reader(conn_or_db)
    if dialect.of(conn_or_db) == dialect.POSTGRESQL:
        [(present,)] = read("select to_regclass(?) is not null", (TABLE,))
    else:
        present = bool(read("select 1 from sqlite_master where type = 'table' and name = ?", (TABLE,)))
    if not present:
        return 0
    [(highest,)] = read(f"select coalesce(max(version), 0) from {TABLE}")
    return int(highest)


def applied(conn_or_db: Any) -> list[tuple[int, str]]:
    """The migrations a database had: (version, name), in order."""
    read = _reader(conn_or_db)
    if version(conn_or_db) == 0:
        return []
    return [(int(r[0]), r[1]) for r in read(f"select version, name from {TABLE} order by version")]


def _reader(conn_or_db: Any) -> Callable[..., list]:
    """Rows of a query (sql, params) on a Database (its query) or a connection (execute)."""
    if hasattr(conn_or_db, "query"):
        return conn_or_db.query
    return lambda sql, params=(): conn_or_db.execute(sql, params).fetchall()

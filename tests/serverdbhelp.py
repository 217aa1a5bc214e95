"""The server database a storage test runs on: SQLite's under a data
directory, or PostgreSQL's (the storage fixture of conftest.py says which)."""

from __future__ import annotations

import os
import sqlite3

from moxpy.store import backend
from moxpy.store.sqlite.serverdb import ServerDatabase


def open_server_database(data_dir, storage: str = "") -> ServerDatabase:
    """mox.db under data_dir when storage is "", else the PostgreSQL database with that DSN."""
    if not storage:
        return ServerDatabase(str(data_dir))
    from moxpy.store.pg.serverdb import PgServerDatabase

    return PgServerDatabase(storage)


def execute(config, statement: str, params: tuple = ()) -> list[tuple]:
    """One SQL statement on the server database of a (running) server's config, committed at once; the rows
    it returns. For tests that make a record look older or read what is kept: the tables are the same on
    both backends. Placeholders are SQLite's ?, turned into PostgreSQL's %s there."""
    if backend.postgresql(config):
        import psycopg

        with psycopg.connect(backend.dsn(config), autocommit=True) as conn:
            cursor = conn.execute(statement.replace("?", "%s"), params)
            return [tuple(row) for row in cursor.fetchall()] if cursor.description else []
    conn = sqlite3.connect(os.path.join(config.data_dir(), "mox.db"), timeout=30)
    try:
        with conn:
            return [tuple(row) for row in conn.execute(statement, params).fetchall()]
    finally:
        conn.close()

"""The server database a storage test runs on: SQLite's under a data
directory, or PostgreSQL's (the storage fixture of conftest.py says which)."""

from __future__ import annotations

from moxpy.store.sqlite.serverdb import ServerDatabase


def open_server_database(data_dir, storage: str = "") -> ServerDatabase:
    """mox.db under data_dir when storage is "", else the PostgreSQL database with that DSN."""
    if not storage:
        return ServerDatabase(str(data_dir))
    from moxpy.store.pg.serverdb import PgServerDatabase

    return PgServerDatabase(storage)

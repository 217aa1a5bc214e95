"""The storage backend the config names (Storage): the accounts' store and the
server database, on SQLite under the data directory or on PostgreSQL.

Everything that opens either goes through here, so the server, its two
processes and the command-line tools always agree on where the data is.
The PostgreSQL modules (and psycopg) are imported only when the config
asks for them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import TYPE_CHECKING

from . import open_store
from .sqlite.serverdb import ServerDatabase

if TYPE_CHECKING:
    from ..config import Config
    from .accounts import Store


def postgresql(config: Config) -> bool:
    return config.Storage == "postgresql"


def dsn(config: Config) -> str:
    """The PostgreSQL connection string, with the password of PostgreSQL.PasswordFile when there is one."""
    if not config.PostgreSQL.PasswordFile:
        return config.PostgreSQL.DSN
    from psycopg.conninfo import make_conninfo

    with open(config.resolve(config.PostgreSQL.PasswordFile)) as f:
        password = f.readline().rstrip("\r\n")
    return make_conninfo(config.PostgreSQL.DSN, password=password)


def accounts(config: Config, *, readonly: bool = False,
             names: Callable[[], Collection[str]] | None = None) -> Store:
    """The accounts' store (see store.open_store for readonly and names)."""
    if postgresql(config):
        from .pg.accounts import PgStore

        return PgStore(dsn(config), names=names)
    return open_store(config.data_dir(), readonly=readonly, names=names)


def server_database(config: Config):
    """The server database: the queue, webhooks, tokens, lists and the rest (ServerDatabase's stores)."""
    if postgresql(config):
        from .pg.serverdb import PgServerDatabase

        return PgServerDatabase(dsn(config))
    return ServerDatabase(config.data_dir())

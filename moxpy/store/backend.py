"""The storage backend the config names (Storage): the accounts' store and the
server database, on SQLite under the data directory or on PostgreSQL.

Everything that opens either goes through here, so the server, its two
processes and the command-line tools always agree on where the data is.
The PostgreSQL modules (and psycopg) are imported only when the config
asks for them.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING

from . import open_store
from .sqlite.serverdb import ServerDatabase

NODE_FILE = "node"

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

        return PgStore(dsn(config), names=names, readonly=readonly, node=node_name(config),
                       readers=config.PostgreSQL.ReadConnections)
    return open_store(config.data_dir(), readonly=readonly, names=names)


def account_stored(config: Config, name: str) -> bool:
    """Whether the storage still has an account of that name: its directory under the data directory on
    SQLite, its schema on PostgreSQL; also after `mox account del` took it out of the config (its mail stays)."""
    if postgresql(config):
        from .pg.accounts import schema_name
        from .pg.db import connect

        conn = connect(dsn(config))
        try:
            found = conn.execute("select 1 from pg_namespace where nspname = ?", (schema_name(name),)).fetchone()
            return found is not None
        finally:
            conn.close()
    return os.path.lexists(os.path.join(config.data_dir(), "accounts", name))


def server_database(config: Config):
    """The server database: the queue, webhooks, tokens, lists and the rest (ServerDatabase's stores)."""
    if postgresql(config):
        from .pg.serverdb import PgServerDatabase

        return PgServerDatabase(dsn(config), node=node_name(config), lease=config.PostgreSQL.ClaimLease,
                                readers=config.PostgreSQL.ReadConnections)
    return ServerDatabase(config.data_dir())


def node_name(config: Config) -> str:
    """The name this node claims queue entries and webhooks under in a shared database (pg/serverdb.py):
    made once, at random, and kept in the data directory (file "node"), so that after a restart or a crash
    the node takes its own claims back at once instead of waiting for their leases to end."""
    path = os.path.join(config.data_dir(), NODE_FILE)
    try:
        with open(path) as f:
            name = f.read().strip()
        if name:
            return name
    except FileNotFoundError:
        pass
    os.makedirs(config.data_dir(), exist_ok=True)
    name = secrets.token_hex(8)
    temporary = f"{path}.{name}"
    with open(temporary, "w") as f:
        f.write(name + "\n")
        f.flush()
        os.fsync(f.fileno())
    try:
        os.link(temporary, path)  # fails when another process of the node made it first: use that one
    except FileExistsError:
        pass
    finally:
        os.unlink(temporary)
    with open(path) as f:
        return f.read().strip()

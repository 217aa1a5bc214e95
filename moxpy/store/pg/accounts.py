"""The account store on PostgreSQL: the same account class as SQLite's
(../sqlite/account.py, SQLiteAccount), each account in a schema of its
own in one database, so the account's SQL keeps its table names: its
connections' search_path is that schema. Message bytes are rows of that
schema too (contents.py), since nodes share no filesystem.

Several nodes may open the same account at once: the schema is made
under an advisory lock of its own, and their writes are ordered by the
row locks they take (the mailbox's uidnext, the account's modseq counter),
so UIDs and modseqs stay unique and commit order stays modseq order.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import re
from collections.abc import Callable, Collection

import psycopg.conninfo

from ..sqlite import OpenAccounts, SQLiteAccount, schema
from . import contents, nodes, pool
from .db import PgDatabase, connect


def schema_name(account: str) -> str:
    """The schema of an account: a readable part of its name (only a-z, 0-9 and _, so never to be escaped)
    and a digest of the whole name, which makes it unique whatever the name, within PostgreSQL's 63 bytes."""
    readable = re.sub(r"[^a-z0-9]+", "_", account.lower()).strip("_")[:24]
    digest = hashlib.sha256(account.encode("utf-8", "surrogatepass")).hexdigest()[:24]
    return f"account_{readable}_{digest}" if readable else f"account_{digest}"


def quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _lock_key(name: str) -> int:
    """The advisory lock held while an account's schema is made: 63 bits of its name's digest."""
    return int(hashlib.sha256(name.encode()).hexdigest()[:15], 16)


def schema_dsn(dsn: str, name: str) -> str:
    """dsn with the schema first on the search_path of its connections (after any options it had)."""
    params = psycopg.conninfo.conninfo_to_dict(dsn)
    options = (str(params.get("options", "")) + f" -c search_path={name}").strip()
    return psycopg.conninfo.make_conninfo(dsn, options=options)


class PgStorage:
    """An account's schema: its index tables and its messages' bytes (the account's Storage)."""

    def __init__(self, dsn: str, account: str, readonly: bool, node: str = "", readers: int = pool.SIZE):
        self.schema = schema_name(account)
        self._notice = nodes.payload(self.schema, node)
        if readonly:
            self.db = PgDatabase(dsn, readonly=True, name=f"account {account}", search_path=self.schema,
                                 readers=readers)
            try:
                if self.identity() is None:
                    raise FileNotFoundError(f"no account {account} in the database")
                schema.MIGRATIONS.check(self.db, f"the schema of account {account}")
            except BaseException:
                self.db.close()
                raise
        else:
            self.db = PgDatabase(dsn, lambda conn: self._create(conn, account), name=f"account {account}",
                                 lock_key=_lock_key(self.schema), search_path=self.schema, readers=readers)
        self.bodies = contents.MessageTable(self.db)

    def _create(self, conn, account: str) -> None:
        conn.execute(f"create schema if not exists {quoted(self.schema)}")
        schema.MIGRATIONS.upgrade(conn, f"the schema of account {account}", "")

    def changed_tx(self, conn, changes) -> None:
        conn.execute("select pg_notify(?, ?)", (nodes.CHANNEL, self._notice))

    def identity(self) -> int | None:
        """The schema's oid: another one once the account was removed and made again."""
        row = self.db.query_one("select oid from pg_namespace where nspname = ?", (self.schema,))
        return row[0] if row else None


class PgStore(OpenAccounts):
    """The accounts in a PostgreSQL database (dsn), opened on first use; see SQLiteStore for readonly and
    names."""

    def __init__(self, dsn: str, names: Callable[[], Collection[str]] | None = None, *, readonly: bool = False,
                 node: str = "", readers: int = pool.SIZE):
        """node: this node's name among those sharing the database (the same for both of its processes);
        readers: the size of the process's pool of read connections (pool.py)."""
        super().__init__(readonly, names)
        self.dsn = dsn
        self.readers = readers
        self.node = node or secrets.token_hex(8)
        self._listener = nodes.Listener(dsn, self.node, self._heard)

    def _open(self, name: str) -> SQLiteAccount:
        account = SQLiteAccount(name, "", readonly=self.readonly, relay=self._relay,
                                storage=PgStorage(self.dsn, name, self.readonly, self.node, self.readers))
        if not self.readonly:
            account.follower = nodes.Follower(account)
        return account

    async def start(self) -> None:
        if not self.readonly:
            self._listener.start()

    def _heard(self, schema: str | None) -> None:
        """Another node committed changes to the account with that schema (None: to any, maybe)."""
        for account in list(self._accounts.values()):
            if account.follower is not None and (schema is None or account._storage.schema == schema):
                account.follower.catch_up()

    def close(self) -> None:
        self._listener.stop()
        super().close()

    async def remove(self, name: str) -> bool:
        self.forget(name)
        return await asyncio.get_running_loop().run_in_executor(None, self._drop, schema_name(name))

    def _drop(self, name: str) -> bool:
        """Drop an account's schema, every table in it; whether there was one."""
        conn = connect(self.dsn)
        try:
            existed = conn.execute("select 1 from pg_namespace where nspname = ?", (name,)).fetchone() is not None
            conn.execute(f"drop schema if exists {quoted(name)} cascade")
            return existed
        finally:
            conn.close()

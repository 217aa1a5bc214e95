"""OAuth clients and access token signing keys in the server database
(tables oauth_clients and oauth_keys, see serverdb.py)."""

from __future__ import annotations

import json
import sqlite3

from ..db import Database
from ..oauth import ClientRecord, SigningKey


def schema(conn: sqlite3.Connection) -> None:
    conn.execute("""
        create table if not exists oauth_clients (
            id text primary key,
            account text not null,
            name text not null default '',
            scopes text not null,
            created real not null,
            removed real not null default 0,
            secret_hash blob not null
        )""")
    conn.execute("create index if not exists oauth_clients_account on oauth_clients (account)")
    # Private keys in the clear, as signing needs them: mox.db is the server's own (mode 0600).
    conn.execute("""
        create table if not exists oauth_keys (
            kid text primary key,
            created real not null,
            private_pem blob not null,
            retired real not null default 0
        )""")


def _client(row: sqlite3.Row) -> ClientRecord:
    return ClientRecord(id=row["id"], account=row["account"], name=row["name"], scopes=json.loads(row["scopes"]),
                        created=row["created"], removed=row["removed"], secret_hash=bytes(row["secret_hash"]))


def _key(row: sqlite3.Row) -> SigningKey:
    return SigningKey(kid=row["kid"], created=row["created"], private_pem=bytes(row["private_pem"]),
                      retired=row["retired"])


class SqliteClientStore:
    def __init__(self, db: Database):
        self.db = db

    async def add(self, record: ClientRecord) -> None:
        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "insert into oauth_clients (id, account, name, scopes, created, secret_hash) values (?, ?, ?, ?, ?, ?)",
                (record.id, record.account, record.name, json.dumps(record.scopes), record.created,
                 record.secret_hash))

        await self.db.write(write)

    def get(self, client_id: str) -> ClientRecord | None:
        row = self.db.query_one("select * from oauth_clients where id = ?", (client_id,))
        return _client(row) if row else None

    def list(self, account: str = "") -> list[ClientRecord]:
        if account:
            rows = self.db.query("select * from oauth_clients where account = ? order by created, id", (account,))
        else:
            rows = self.db.query("select * from oauth_clients order by created, id")
        return [_client(r) for r in rows]

    async def remove_account(self, account: str) -> int:
        return await self.db.write(lambda conn: conn.execute("delete from oauth_clients where account = ?",
                                                             (account,)).rowcount)

    async def remove(self, client_id: str, when: float) -> bool:
        def write(conn: sqlite3.Connection) -> bool:
            if conn.execute("select 1 from oauth_clients where id = ?", (client_id,)).fetchone() is None:
                return False
            conn.execute("update oauth_clients set removed = ? where id = ? and removed = 0", (when, client_id))
            return True

        return await self.db.write(write)


class SqliteSigningKeyStore:
    def __init__(self, db: Database):
        self.db = db

    def keys(self) -> list[SigningKey]:
        rows = self.db.query("select * from oauth_keys order by retired = 0 desc, created desc, kid")
        return [_key(r) for r in rows]

    async def add_first(self, key: SigningKey) -> SigningKey:
        def write(conn: sqlite3.Connection) -> SigningKey:
            # Inside the write transaction: of two processes making the first key at once, one wins.
            row = conn.execute("select * from oauth_keys where retired = 0 order by created desc limit 1"
                               ).fetchone()
            if row is not None:
                return _key(row)
            conn.execute("insert into oauth_keys (kid, created, private_pem) values (?, ?, ?)",
                         (key.kid, key.created, key.private_pem))
            return key

        return await self.db.write(write)

    async def rotate(self, key: SigningKey, when: float) -> None:
        def write(conn: sqlite3.Connection) -> None:
            conn.execute("update oauth_keys set retired = ? where retired = 0", (when,))
            conn.execute("insert into oauth_keys (kid, created, private_pem) values (?, ?, ?)",
                         (key.kid, key.created, key.private_pem))

        await self.db.write(write)

    async def drop_retired(self, before: float) -> int:
        def write(conn: sqlite3.Connection) -> int:
            return conn.execute("delete from oauth_keys where retired != 0 and retired < ?",
                                (before,)).rowcount

        return await self.db.write(write)

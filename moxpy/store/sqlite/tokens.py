"""API tokens in the server database (table api_tokens, see serverdb.py)."""

from __future__ import annotations

import json
import sqlite3

from ..db import Database
from ..tokens import TokenRecord


def schema(conn: sqlite3.Connection) -> None:
    # AUTOINCREMENT: an id revoked once never names another token.
    conn.execute("""
        create table if not exists api_tokens (
            id integer primary key autoincrement,
            account text not null,
            name text not null default '',
            scopes text not null,
            created real not null,
            expires real not null default 0,
            revoked real not null default 0,
            token_hash blob not null unique
        )""")
    conn.execute("create index if not exists api_tokens_account on api_tokens (account)")


def _record(row: sqlite3.Row) -> TokenRecord:
    return TokenRecord(id=row["id"], account=row["account"], name=row["name"], scopes=json.loads(row["scopes"]),
                       created=row["created"], expires=row["expires"], revoked=row["revoked"],
                       token_hash=bytes(row["token_hash"]))


class SqliteTokenStore:
    def __init__(self, db: Database):
        self.db = db

    async def add(self, record: TokenRecord) -> int:
        def write(conn: sqlite3.Connection) -> int:
            cur = conn.execute(
                "insert into api_tokens (account, name, scopes, created, expires, token_hash) values (?, ?, ?, ?, ?, ?) "
                "returning id",
                (record.account, record.name, json.dumps(record.scopes), record.created, record.expires,
                 record.token_hash))
            return cur.fetchone()[0]

        return await self.db.write(write)

    def by_hash(self, token_hash: bytes) -> TokenRecord | None:
        row = self.db.query_one("select * from api_tokens where token_hash = ?", (token_hash,))
        return _record(row) if row else None

    def list(self, account: str = "") -> list[TokenRecord]:
        if account:
            rows = self.db.query("select * from api_tokens where account = ? order by id", (account,))
        else:
            rows = self.db.query("select * from api_tokens order by id")
        return [_record(r) for r in rows]

    async def revoke(self, token_id: int, account: str, when: float) -> bool:
        def write(conn: sqlite3.Connection) -> bool:
            where, params = "id = ?", [token_id]
            if account:
                where, params = where + " and account = ?", params + [account]
            if conn.execute(f"select 1 from api_tokens where {where}", params).fetchone() is None:
                return False
            conn.execute(f"update api_tokens set revoked = ? where {where} and revoked = 0", [when] + params)
            return True

        return await self.db.write(write)

    async def remove_account(self, account: str) -> int:
        return await self.db.write(lambda conn: conn.execute("delete from api_tokens where account = ?",
                                                             (account,)).rowcount)

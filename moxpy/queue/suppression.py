"""The per-account suppression list: addresses the queue will not deliver to.

Suppressions match on a base address (see message.address.base_address),
so "John.Doe+news@example.com" is suppressed by a failure of
"johndoe@example.com". Stored in the server database beside the queue.
"""

from __future__ import annotations

import sqlite3
import time

from ..message.address import Address, base_address
from ..store.db import Database


class SuppressionExists(Exception):
    pass


class SuppressionAbsent(Exception):
    pass


def schema(conn: sqlite3.Connection) -> None:
    conn.execute("""
        create table if not exists suppressions (
            id integer primary key autoincrement,
            created real not null,
            account text not null,
            base_address text not null,
            original_address text not null,
            manual integer not null default 0,
            reason text not null default '',
            unique (account, base_address)
        )""")


def lookup_tx(conn: sqlite3.Connection, account: str, address: Address) -> sqlite3.Row | None:
    return conn.execute("select * from suppressions where account = ? and base_address = ?",
                        (account, base_address(address))).fetchone()


def add_tx(conn: sqlite3.Connection, account: str, address: Address, manual: bool, reason: str) -> bool:
    """Add inside a transaction; False when the base address was already present."""
    cursor = conn.execute(
        "insert or ignore into suppressions (created, account, base_address, original_address, manual, reason) "
        "values (?, ?, ?, ?, ?, ?)",
        (time.time(), account, base_address(address), str(address), int(manual), reason),
    )
    return cursor.rowcount == 1


class Suppressions:
    def __init__(self, db: Database):
        self.db = db

    def list(self, account: str) -> list[sqlite3.Row]:
        return self.db.query("select * from suppressions where account = ? order by id", (account,))

    def lookup(self, account: str, address: Address) -> sqlite3.Row | None:
        return self.db.query_one("select * from suppressions where account = ? and base_address = ?",
                                 (account, base_address(address)))

    async def add(self, account: str, address: Address, manual: bool = True, reason: str = "") -> None:
        def insert(conn: sqlite3.Connection) -> None:
            if not add_tx(conn, account, address, manual, reason):
                raise SuppressionExists(base_address(address))

        await self.db.write(insert)

    async def remove(self, account: str, address: Address) -> None:
        def delete(conn: sqlite3.Connection) -> None:
            cursor = conn.execute("delete from suppressions where account = ? and base_address = ?",
                                  (account, base_address(address)))
            if cursor.rowcount == 0:
                raise SuppressionAbsent(base_address(address))

        await self.db.write(delete)

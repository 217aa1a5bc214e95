"""The per-account suppression list: addresses the queue will not deliver to.

Suppressions match on a base address (see message.address.base_address),
so "John.Doe+news@example.com" is suppressed by a failure of
"johndoe@example.com". Stored in the server database beside the queue.

Besides manual additions (webapi), the queue adds an address when a
delivery fails permanently with a code that says the address is dead
(immediate()), or after three failed messages in a row to it
(record_failure_tx).
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


# SMTP reply codes and RFC 3463 enhanced codes of a permanent failure that
# put the address on the list at once: the remote says the mailbox or domain
# does not exist or does not take mail, or it refuses us by policy. Trying
# again would only look like spam.
IMMEDIATE_CODES = {521, 550, 551, 553, 556}
IMMEDIATE_ENHANCED = {"5.1.1", "5.1.2", "5.1.3", "5.1.6", "5.2.1", "5.7.1"}


def immediate(code: int, enhanced: str) -> bool:
    return code in IMMEDIATE_CODES or (code // 100 == 5 and enhanced in IMMEDIATE_ENHANCED)


def record_failure_tx(conn: sqlite3.Connection, account: str, address: Address, entry_id: int, code: int,
                      enhanced: str, source: str) -> bool:
    """Process a permanent failure to address; return whether it was added to the list now.

    Called in the transaction that retires the failed entry. Failures without
    an SMTP code (connection errors, our own) never suppress.
    """
    if code == 0 or lookup_tx(conn, account, address) is not None:
        return False
    if immediate(code, enhanced):
        reason = f"delivery failure from {source} with smtp code {code}, enhanced code {enhanced or '-'}"
    else:
        # This failure plus the two most recent retired messages to the same
        # address, both failed: three in a row.
        previous = conn.execute(
            "select event from retired where account = ? and rcpt_to = ? and id != ? order by retired desc limit 2",
            (account, str(address), entry_id)).fetchall()
        if len(previous) < 2 or any(row["event"] != "failed" for row in previous):
            return False
        reason = f"delivery failure from {source}, third failed message in a row"
    return add_tx(conn, account, address, False, reason)


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

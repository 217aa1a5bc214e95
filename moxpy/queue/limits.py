"""Daily sending limits per account, as mox applies them.

Every submitted message is recorded once per recipient, in the same
transaction that queues it. Over the last 24 hours an account may send at
most MaxOutgoingMessagesPerDay such messages, to at most
MaxFirstTimeRecipientsPerDay recipients it never sent to before (0:
unlimited). The limits keep a compromised account from doing much harm.
"""

from __future__ import annotations

import sqlite3
import time

from ..store.db import Database

DAY = 24 * 3600
KEEP = 365 * DAY  # rows older than a day only matter for first-time checks


def schema(conn: sqlite3.Connection) -> None:
    conn.execute("""
        create table if not exists outgoing (
            id integer primary key,
            account text not null,
            recipient text not null,
            submitted real not null
        )""")
    conn.execute("create index if not exists outgoing_recipient on outgoing (account, recipient, submitted)")
    conn.execute("create index if not exists outgoing_submitted on outgoing (account, submitted)")


def record_tx(conn: sqlite3.Connection, account: str, recipients: list[str], now: float) -> None:
    conn.executemany("insert into outgoing (account, recipient, submitted) values (?, ?, ?)",
                     [(account, r.lower(), now) for r in recipients])
    conn.execute("delete from outgoing where submitted < ?", (now - KEEP,))


def reached(db: Database, account: str, recipients: list[str], max_messages: int, max_first_time: int) -> str:
    """Which limit sending to recipients would exceed: "messages", "recipients" or ""."""
    now = time.time()
    since = now - DAY
    sent = db.query_one("select count(*) as n from outgoing where account = ? and submitted > ?",
                        (account, since))["n"]
    if max_messages and sent + len(recipients) > max_messages:
        return "messages"
    # Like mox, only count first-time recipients when there are enough messages to reach the limit.
    if not max_first_time or sent + len(recipients) < max_first_time:
        return ""

    def first_time(recipient: str, before: float) -> bool:
        return db.query_one("select 1 from outgoing where account = ? and recipient = ? and submitted < ? limit 1",
                            (account, recipient, before)) is None

    recent = db.query("select recipient, min(submitted) as first from outgoing where account = ? and submitted > ? "
                      "group by recipient", (account, since))
    count = sum(first_time(r, now) for r in {r.lower() for r in recipients})
    count += sum(first_time(row["recipient"], row["first"]) for row in recent)
    return "recipients" if count > max_first_time else ""

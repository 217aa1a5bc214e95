"""Tables of the delivery queue in the server database (mox.db).

queue      one row per recipient of a submission still to be delivered
retired    delivered, failed, suppressed and canceled entries, kept for the
           account's KeepRetiredMessagePeriod (late DSNs still match them)
dsn_outbox DSNs about our own outgoing mail, written in the transaction
           that decided on them and removed once stored in the sender's
           mailbox, so a crash in between cannot lose one

Columns are added to existing databases when missing, so a data directory
made by an older version keeps working.
"""

from __future__ import annotations

import sqlite3

import sqlite_utils

from . import limits

# Columns of a queue entry; retired entries have the same plus RETIRED_COLUMNS.
COLUMNS: dict[str, type] = {
    "id": int,
    "account": str,  # the account that submitted the message; DSNs go to it
    "created": float,
    "sender": str,  # the address the account sent as (From), for DSNs
    "mail_from": str,  # SMTP MAIL FROM, with the FromID when tracking is on
    "rcpt_to": str,
    "rcpt_domain": str,  # lower case, for filters and batching
    "from_id": str,  # unique ID in mail_from; "" without FromID tracking
    "message_id": str,
    "subject": str,
    "path": str,  # message file under data/queue/, shared by the entries of one submission
    "size": int,
    "smtputf8": int,
    "require_tls": int,  # null: opportunistic, 1: REQUIRETLS, 0: TLS optional
    "extra": str,  # JSON object, copied into every webhook about this entry
    "next_attempt": float,
    "attempts": int,
    "hold": int,
    "last_attempt": float,
    "last_code": int,
    "last_enhanced_code": str,
    "last_error": str,
    # 1 from the moment an attempt starts until its result is recorded: after
    # a crash, such an entry may or may not have been delivered.
    "delivering": int,
    "results": str,  # JSON list, one object per attempt: Start, Duration, Success, Code, Secode, Error
}

RETIRED_COLUMNS: dict[str, type] = {
    "retired": float,
    "event": str,  # delivered, failed, suppressed, canceled
    "success": int,
    "keep_until": float,
}

_SQL_TYPES = {int: "integer", float: "real", str: "text"}
_DEFAULTS = {
    "attempts": "0", "hold": "0", "last_code": "0", "last_enhanced_code": "''", "last_error": "''",
    "extra": "'{}'", "from_id": "''", "smtputf8": "0", "delivering": "0", "results": "'[]'", "event": "''",
    "success": "0", "subject": "''", "message_id": "''",
}


def _definition(column: str, typ: type) -> str:
    default = _DEFAULTS.get(column)
    return f"{column} {_SQL_TYPES[typ]}" + (f" not null default {default}" if default else "")


def _ensure_table(conn: sqlite3.Connection, name: str, columns: dict[str, type], primary_key: str) -> None:
    defs = [f"id {primary_key}"] + [_definition(c, t) for c, t in columns.items() if c != "id"]
    conn.execute(f"create table if not exists {name} ({', '.join(defs)})")
    present = {row[1] for row in conn.execute(f"pragma table_info({name})")}
    for column, typ in columns.items():
        if column not in present:
            conn.execute(f"alter table {name} add column {_definition(column, typ)}")


def schema(conn: sqlite3.Connection) -> None:
    limits.schema(conn)
    # AUTOINCREMENT: queue ids (QueueMsgID) are never reused, also after
    # entries are retired, so webhooks and DSNs always point to one message.
    _ensure_table(conn, "queue", COLUMNS, "integer primary key autoincrement")
    # Retired entries keep the id they had in the queue.
    _ensure_table(conn, "retired", {**COLUMNS, **RETIRED_COLUMNS}, "integer primary key")
    conn.execute("""
        create table if not exists dsn_outbox (
            id integer primary key autoincrement,
            account text not null,
            rcpt_to text not null,
            data blob not null
        )""")
    db = sqlite_utils.Database(conn)
    db["queue"].create_index(["next_attempt"], if_not_exists=True)
    db["queue"].create_index(["path"], if_not_exists=True)
    db["queue"].create_index(["from_id"], if_not_exists=True)
    db["retired"].create_index(["from_id"], if_not_exists=True)
    db["retired"].create_index(["keep_until"], if_not_exists=True)
    db["retired"].create_index(["account", "rcpt_to", "retired"], if_not_exists=True)

"""Tables of the webhook queue in the server database (mox.db).

webhooks          webhooks still to be delivered, with their JSON payload
                  fixed when queued
webhooks_retired  delivered, given-up, superseded and canceled webhooks,
                  kept for the account's KeepRetiredWebhookPeriod with the
                  result of every attempt (the Authorization value itself
                  is not kept, only whether there was one)
"""

from __future__ import annotations

import sqlite3

_COMMON = """
    queue_msg_id integer not null default 0,  -- 0 for incoming-message webhooks
    from_id text not null default '',
    message_id text not null default '',
    subject text not null default '',
    extra text not null default '{}',
    account text not null,
    url text not null,
    is_incoming integer not null default 0,
    event text not null default '',  -- outgoing event; '' for incoming
    payload text not null,
    submitted real not null,
    attempts integer not null default 0,
    results text not null default '[]'  -- one object per attempt: Start, Duration, URL, Success, Code, Error, Response
"""


def schema(conn: sqlite3.Connection) -> None:
    # AUTOINCREMENT: the id is X-Mox-Webhook-ID, never reused.
    conn.execute(f"""
        create table if not exists webhooks (
            id integer primary key autoincrement,
            {_COMMON},
            authorization text not null default '',
            next_attempt real not null
        )""")
    conn.execute(f"""
        create table if not exists webhooks_retired (
            id integer primary key,
            {_COMMON},
            has_authorization integer not null default 0,
            success integer not null default 0,
            superseded_by integer not null default 0,
            last_activity real not null,
            keep_until real not null
        )""")
    conn.execute("create index if not exists webhooks_due on webhooks (next_attempt)")
    conn.execute("create index if not exists webhooks_url on webhooks (url, next_attempt)")
    conn.execute("create index if not exists webhooks_queue_msg on webhooks (queue_msg_id)")
    conn.execute("create index if not exists webhooks_retired_keep on webhooks_retired (keep_until)")
    conn.execute("create index if not exists webhooks_retired_activity on webhooks_retired (last_activity)")

"""The server database (mox.db): its tables, and the stores over it.

queue             one row per recipient of a submission still to be delivered
retired           delivered, failed, suppressed and canceled entries
queue_messages    the bytes of queued messages small enough to keep in the database
                  (store/sqlite/queue.py), by the path their entries share
dsn_outbox        DSNs about our own outgoing mail, until stored in the sender's Inbox
outgoing          the send log behind the daily limits: one row per recipient submitted
suppressions      per account, addresses not delivered to
idempotency_keys  per account, the idempotency keys of submissions of the last 24 hours and their answers
webhooks          webhooks still to be delivered, with their JSON payload
webhooks_retired  delivered, given-up, superseded and canceled webhooks
change_positions  per account, how far in its change log change webhooks were queued
api_tokens        per account, webapi tokens: their scopes, expiry, revocation and SHA-256 (tokens.py)
webhook_secrets   per account and kind of webhook, the secrets that sign them (webhooks/signing.py)
oauth_clients     per account, OAuth clients: their scopes, removal and the SHA-256 of their secret (oauth/)
oauth_keys        the keys that sign OAuth access tokens, the current one and retired ones (oauth/keys.py)
fetch_rules       remote mailboxes collected into accounts, with the state of their runs (store/fetchrules.py)
fetch_seen        per fetch rule, the remote messages it fetched
newsletter_lists  per account, mailing lists (store/newsletter.py)
newsletter_members per list, its members: subscription status and preferences
sendjobs          per account, send jobs: a message to a list's confirmed members (store/sendjobs.py)
sendjob_recipients per send job, each member dealt with: its state and queue entry

The columns mean what the fields of the records in store/queue.py and
store/webhooks.py say. The tables are made and upgraded by the numbered
migrations at the end (../migrations.py), the same on SQLite and
PostgreSQL; the first of them also brings a database made before
versions up to date, so a data directory made by an older version keeps
working.
"""

from __future__ import annotations

import os
import sqlite3

from .. import dialect
from ..db import Database
from ..migrations import Migration, Migrations
from . import fetchrules as fetchschema
from . import leases
from . import newsletter as newsletterschema
from . import oauth as oauthschema
from . import sendjobs as sendjobschema
from . import tokens as tokenschema
from .fetchrules import SqliteFetchRuleStore
from .newsletter import SqliteNewsletterStore
from .oauth import SqliteClientStore, SqliteSigningKeyStore
from .queue import SqliteQueueStore
from .sendjobs import SqliteSendJobStore
from .tokens import SqliteTokenStore
from .webhooks import SqliteWebhookStore

# Columns of a queue entry (store.queue.Entry); retired entries have the
# same plus RETIRED_COLUMNS. results and extra hold JSON.
QUEUE_COLUMNS: dict[str, type] = {
    "id": int, "account": str, "created": float, "sender": str, "mail_from": str, "rcpt_to": str,
    "rcpt_domain": str, "from_id": str, "message_id": str, "subject": str, "path": str, "size": int,
    "smtputf8": int, "require_tls": int, "extra": str, "next_attempt": float, "attempts": int, "hold": int,
    "last_attempt": float, "last_code": int, "last_enhanced_code": str, "last_error": str, "delivering": int,
    "results": str,
}
RETIRED_COLUMNS: dict[str, type] = {"retired": float, "event": str, "success": int, "keep_until": float}

_SQL_TYPES = {int: "integer", float: "real", str: "text"}
_DEFAULTS = {
    "attempts": "0", "hold": "0", "last_code": "0", "last_enhanced_code": "''", "last_error": "''",
    "extra": "'{}'", "from_id": "''", "smtputf8": "0", "delivering": "0", "results": "'[]'", "event": "''",
    "success": "0", "subject": "''", "message_id": "''",
}

_WEBHOOK_COMMON = """
    queue_msg_id integer not null default 0,
    from_id text not null default '',
    message_id text not null default '',
    subject text not null default '',
    extra text not null default '{}',
    account text not null,
    url text not null,
    is_incoming integer not null default 0,
    event text not null default '',
    payload text not null,
    submitted real not null,
    attempts integer not null default 0,
    results text not null default '[]'
"""


def _definition(column: str, typ: type) -> str:
    default = _DEFAULTS.get(column)
    return f"{column} {_SQL_TYPES[typ]}" + (f" not null default {default}" if default else "")


def _ensure_table(conn: sqlite3.Connection, name: str, columns: dict[str, type], primary_key: str) -> None:
    defs = [f"id {primary_key}"] + [_definition(c, t) for c, t in columns.items() if c != "id"]
    conn.execute(f"create table if not exists {name} ({', '.join(defs)})")
    present = dialect.table_columns(conn, name)
    for column, typ in columns.items():
        if column not in present:
            conn.execute(f"alter table {name} add column {_definition(column, typ)}")


def _queue_schema(conn: sqlite3.Connection) -> None:
    # AUTOINCREMENT: queue ids (QueueMsgID) are never reused, also after
    # entries are retired, so webhooks and DSNs always point to one message.
    _ensure_table(conn, "queue", QUEUE_COLUMNS, "integer primary key autoincrement")
    # Retired entries keep the id they had in the queue.
    _ensure_table(conn, "retired", {**QUEUE_COLUMNS, **RETIRED_COLUMNS}, "integer primary key")
    # Rows only for messages of queued entries; larger messages and those
    # queued by versions before this table are files, and have none.
    conn.execute("""
        create table if not exists queue_messages (
            path text primary key,
            data blob not null
        )""")
    conn.execute("""
        create table if not exists dsn_outbox (
            id integer primary key autoincrement,
            account text not null,
            rcpt_to text not null,
            data blob not null
        )""")
    # Named as sqlite-utils, which made them in the first versions, named them:
    # databases made then do not get a second copy.
    conn.execute("create index if not exists idx_queue_next_attempt on queue (next_attempt)")
    conn.execute("create index if not exists idx_queue_path on queue (path)")
    conn.execute("create index if not exists idx_queue_from_id on queue (from_id)")
    conn.execute("create index if not exists idx_retired_from_id on retired (from_id)")
    conn.execute("create index if not exists idx_retired_keep_until on retired (keep_until)")
    conn.execute("create index if not exists idx_retired_account_rcpt_to_retired on retired (account, rcpt_to, retired)")
    conn.execute("""
        create table if not exists outgoing (
            id integer primary key,
            account text not null,
            recipient text not null,
            submitted real not null
        )""")
    conn.execute("create index if not exists outgoing_recipient on outgoing (account, recipient, submitted)")
    conn.execute("create index if not exists outgoing_submitted on outgoing (account, submitted)")
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
    conn.execute("""
        create table if not exists idempotency_keys (
            account text not null,
            key text not null,
            digest text not null,
            created real not null,
            response text not null,
            primary key (account, key)
        )""")
    conn.execute("create index if not exists idempotency_keys_created on idempotency_keys (created)")


def _webhooks_schema(conn: sqlite3.Connection) -> None:
    # AUTOINCREMENT: the id is X-Mox-Webhook-ID, never reused.
    conn.execute(f"""
        create table if not exists webhooks (
            id integer primary key autoincrement,
            {_WEBHOOK_COMMON},
            "authorization" text not null default '',
            next_attempt real not null
        )""")
    conn.execute(f"""
        create table if not exists webhooks_retired (
            id integer primary key,
            {_WEBHOOK_COMMON},
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
    conn.execute("""
        create table if not exists change_positions (
            account text primary key,
            modseq integer not null,
            seq integer not null
        )""")
    # Kept in the clear, as signing needs them; mox.db is the server's own
    # (mode 0600 under the data directory). until 0: in use until rotated.
    conn.execute("""
        create table if not exists webhook_secrets (
            id integer primary key autoincrement,
            account text not null,
            kind text not null,
            secret text not null,
            created real not null,
            until real not null default 0
        )""")
    conn.execute("create index if not exists webhook_secrets_account on webhook_secrets (account, kind)")


def schema(conn: sqlite3.Connection) -> None:
    """The tables as versions began (migration 1), made or brought up to date."""
    _queue_schema(conn)
    _webhooks_schema(conn)
    tokenschema.schema(conn)
    oauthschema.schema(conn)
    fetchschema.schema(conn)
    newsletterschema.schema(conn)
    sendjobschema.schema(conn)


def _lease_columns(conn: sqlite3.Connection) -> None:
    """Claims of due rows by nodes sharing the database (leases.py); used on PostgreSQL, present on both."""
    leases.add_columns(conn, "queue")
    leases.add_columns(conn, "webhooks")


# The server database's migrations, each applied once (see ../migrations.py); never change one, add the next.
MIGRATIONS = Migrations("server database", [
    Migration(1, "tables of the first versioned server database", schema),
    Migration(2, "lease columns of queue and webhooks", _lease_columns),
])


class ServerDatabase:
    """mox.db under a data directory, with the queue's larger messages in files in data/queue."""

    def __init__(self, data_dir: str):
        path = os.path.join(data_dir, "mox.db")
        # Only the server reads it: it holds the webhook signing secrets and the access token signing keys.
        # SQLite gives new -wal and -shm files the database file's mode;
        # ones left by an older version are narrowed too.
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        for name in (path, path + "-wal", path + "-shm"):
            if os.path.exists(name):
                os.chmod(name, 0o600)
        self._open(Database(path, lambda conn: MIGRATIONS.upgrade(conn, path)), os.path.join(data_dir, "queue"))

    # Seconds a claim on a due row holds unless renewed, where nodes share the database; 0: no claims.
    claim_lease = 0.0

    def renew_claims(self, now: float) -> int:
        """Extend this node's claims (see leases.py), every claim_lease/3 seconds; how many."""
        return 0

    def _open(self, db, queue_dir: str | None, node: str | None = None) -> None:
        """The stores over db, of either engine; queue_dir None keeps every queued message in db; node: the
        name this process claims due rows under (leases.py), where nodes share db."""
        self.db = db
        self.queue = SqliteQueueStore(self.db, queue_dir, node)
        self.webhooks = SqliteWebhookStore(self.db, node)
        self.tokens = SqliteTokenStore(self.db)
        self.oauth_clients = SqliteClientStore(self.db)
        self.signing_keys = SqliteSigningKeyStore(self.db)
        self.fetch_rules = SqliteFetchRuleStore(self.db)
        self.newsletter = SqliteNewsletterStore(self.db)
        self.sendjobs = SqliteSendJobStore(self.db)

    def _per_account(self) -> dict:
        # Every store with rows of an account, by the name its count is logged under.
        return {"queue": self.queue, "webhooks": self.webhooks, "tokens": self.tokens,
                "fetchrules": self.fetch_rules, "clients": self.oauth_clients, "sendjobs": self.sendjobs,
                "lists": self.newsletter}

    async def remove_account(self, account: str) -> dict[str, int]:
        """Forget everything of a removed account (queued and retired messages, webhooks, suppressions,
        tokens, fetch rules, OAuth clients, send jobs, mailing lists), so that an account made later under its name
        inherits none of it; how many rows of each went."""
        return {name: await store.remove_account(account) for name, store in self._per_account().items()}

    def has_account_data(self, account: str) -> bool:
        """Whether something of an account is still here that remove_account would remove (queue entries
        and webhooks aside, which go with it but do not by themselves keep an account's name)."""
        return bool(self.tokens.list(account) or self.fetch_rules.list(account) or self.oauth_clients.list(account)
                    or self.newsletter.lists(account) or self.sendjobs.has_jobs(account))

    def close(self) -> None:
        """Close once writes in flight are committed."""
        self.db.close()

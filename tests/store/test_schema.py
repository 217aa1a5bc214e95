"""Databases made by the first versions, whose tables and indexes sqlite-utils
created, open with the same layout as new ones: no index made twice under
another name, no column defined differently."""

from __future__ import annotations

import sqlite3

from moxpy.store.sqlite import schema, serverdb

# What sqlite-utils executed for the account index, as it wrote it.
FIRST_ACCOUNT_TABLES = [
    'CREATE TABLE "mailboxes" (\n   "id" INTEGER PRIMARY KEY,\n   "name" TEXT NOT NULL,\n'
    '   "special_use" TEXT DEFAULT \'\',\n   "uidvalidity" INTEGER NOT NULL,\n   "uidnext" INTEGER NOT NULL,\n'
    '   "subscribed" INTEGER DEFAULT 1\n)',
    'CREATE UNIQUE INDEX "idx_mailboxes_name"\n    ON "mailboxes" ("name")',
    'CREATE TABLE "meta" (\n   "key" TEXT PRIMARY KEY,\n   "value" INTEGER\n)',
]
FIRST_ACCOUNT_INDEXES = {
    "idx_messages_mailbox_id_uid": 'CREATE UNIQUE INDEX "idx_messages_mailbox_id_uid"\n'
                                   '    ON "messages" ("mailbox_id", "uid")',
}
FIRST_SERVER_INDEXES = {
    "idx_queue_next_attempt": 'CREATE INDEX "idx_queue_next_attempt"\n    ON "queue" ("next_attempt")',
    "idx_queue_path": 'CREATE INDEX "idx_queue_path"\n    ON "queue" ("path")',
    "idx_queue_from_id": 'CREATE INDEX "idx_queue_from_id"\n    ON "queue" ("from_id")',
    "idx_retired_from_id": 'CREATE INDEX "idx_retired_from_id"\n    ON "retired" ("from_id")',
    "idx_retired_keep_until": 'CREATE INDEX "idx_retired_keep_until"\n    ON "retired" ("keep_until")',
    "idx_retired_account_rcpt_to_retired": 'CREATE INDEX "idx_retired_account_rcpt_to_retired"\n'
                                           '    ON "retired" ("account", "rcpt_to", "retired")',
}


def connect() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.row_factory = sqlite3.Row
    return conn


def layout(conn: sqlite3.Connection) -> dict:
    """Per table: its columns (name, type, not null, default, primary key) and indexes (name, unique, columns)."""
    found = {}
    for (table,) in conn.execute("select name from sqlite_master where type = 'table' order by name"):
        columns = [(r[1], r[2].lower(), r[3], r[4], r[5]) for r in conn.execute(f"pragma table_info({table})")]
        indexes = sorted((r[1], r[2], tuple(c[2] for c in conn.execute(f"pragma index_info('{r[1]}')")))
                         for r in conn.execute(f"pragma index_list({table})"))
        found[table] = (columns, indexes)
    return found


def with_first_indexes(conn: sqlite3.Connection, indexes: dict[str, str]) -> None:
    """The indexes as sqlite-utils made them, in place of those of the same name."""
    for name, statement in indexes.items():
        conn.execute(f"drop index {name}")
        conn.execute(statement)


def test_account_index_of_the_first_versions_opens_as_a_new_one(tmp_path):
    old = connect()
    for statement in FIRST_ACCOUNT_TABLES:
        old.execute(statement)
    schema.create(old, str(tmp_path))
    with_first_indexes(old, FIRST_ACCOUNT_INDEXES)
    schema.create(old, str(tmp_path))  # opened again by this version
    new = connect()
    schema.create(new, str(tmp_path))
    assert layout(old) == layout(new)
    assert [r["name"] for r in old.execute("select name from mailboxes order by id")] == \
        [r["name"] for r in new.execute("select name from mailboxes order by id")]


def test_server_database_of_the_first_versions_opens_as_a_new_one():
    old = connect()
    serverdb.schema(old)
    with_first_indexes(old, FIRST_SERVER_INDEXES)
    serverdb.schema(old)
    new = connect()
    serverdb.schema(new)
    assert layout(old) == layout(new)

"""Mailboxes in the index: lookups and counts, and the transactions that
create, delete, rename and subscribe them.

Functions taking db read over the read connection (the last committed
state); those ending in _tx run inside a write transaction (conn).
"""

from __future__ import annotations

import json
import sqlite3
import time

from .. import dialect
from .. import flags as flaglib
from .. import mailboxname
from ..accounts import Mailbox, MailboxError, MailboxExists, MailboxNotFound, MailboxStatus
from ..db import Database
from . import rows


def _lookup_name(name: str) -> str | None:
    # A name no mailbox can have names none, rather than being an error.
    try:
        return mailboxname.check(name)
    except MailboxError:
        return None


def list_all(db: Database) -> list[Mailbox]:
    return [rows.mailbox(r) for r in db.query("select * from mailboxes order by name = 'Inbox' desc, name")]


def by_name(db: Database, name: str) -> Mailbox | None:
    key = _lookup_name(name)
    row = db.query_one("select * from mailboxes where name = ?", (key,)) if key else None
    return rows.mailbox(row) if row else None


def by_id(db: Database, mailbox_id: int) -> Mailbox | None:
    row = db.query_one("select * from mailboxes where id = ?", (mailbox_id,))
    return rows.mailbox(row) if row else None


def status(db: Database, mailbox_id: int, recent_claimed: int) -> MailboxStatus:
    row = db.query_one(
        """select count(*) as messages, coalesce(sum(case when flags & ? = 0 then 1 else 0 end), 0) as unseen,
                  coalesce(sum(case when flags & ? != 0 then 1 else 0 end), 0) as deleted,
                  coalesce(sum(size), 0) as size, coalesce(sum(case when uid > ? then 1 else 0 end), 0) as recent,
                  coalesce(min(case when flags & ? = 0 then uid end), 0) as first_unseen
           from messages where mailbox_id = ?""",
        (flaglib.SEEN, flaglib.DELETED, recent_claimed, flaglib.SEEN, mailbox_id))
    return MailboxStatus(**dict(row))


def recent_uid(db: Database, mailbox_id: int) -> int:
    row = db.query_one("select recent_uid from mailboxes where id = ?", (mailbox_id,))
    return row[0] if row else 0


def save_recent_tx(conn: sqlite3.Connection, claims: list[tuple[int, int]]) -> None:
    """Store (highest UID claimed as recent, mailbox id) pairs; a claim never goes down."""
    conn.executemany(f"update mailboxes set recent_uid = {dialect.greatest(conn)}(recent_uid, ?) where id = ?", claims)


def find_tx(conn: sqlite3.Connection, name: str) -> sqlite3.Row | None:
    key = _lookup_name(name)
    return conn.execute("select * from mailboxes where name = ?", (key,)).fetchone() if key else None


def add_keywords_tx(conn: sqlite3.Connection, mailbox_id: int, keywords) -> bool:
    """Note keywords as used in a mailbox (RFC 3501 7.2.6 FLAGS lists them); True when any is new there."""
    keywords = set(keywords)
    if not keywords:
        return False
    (current,) = conn.execute("select keywords from mailboxes where id = ?", (mailbox_id,)).fetchone()
    known = set(json.loads(current))
    if keywords <= known:
        return False
    conn.execute("update mailboxes set keywords = ? where id = ?", (json.dumps(sorted(known | keywords)), mailbox_id))
    return True


def _insert_tx(conn: sqlite3.Connection, name: str, special_use: str) -> sqlite3.Row:
    # RFC 3501 2.3.1.1: a name used again must get a higher UIDVALIDITY than before.
    (highest,) = conn.execute("select coalesce(max(value), 0) from meta where key = 'uidvalidity'").fetchone()
    (current,) = conn.execute("select coalesce(max(uidvalidity), 0) from mailboxes").fetchone()
    uidvalidity = max(int(time.time()), highest + 1, current + 1)
    conn.execute("insert into meta (key, value) values ('uidvalidity', ?) "
                 "on conflict (key) do update set value = excluded.value", (uidvalidity,))
    return conn.execute(
        "insert into mailboxes (name, special_use, uidvalidity, uidnext, subscribed) values (?, ?, ?, 1, 1) returning *",
        (name, special_use, uidvalidity)).fetchone()


def _exists_tx(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("select 1 from mailboxes where name = ?", (name,)).fetchone() is not None


def _create_parents_tx(conn: sqlite3.Connection, name: str) -> list[sqlite3.Row]:
    return [_insert_tx(conn, parent, "") for parent in mailboxname.parents(name) if not _exists_tx(conn, parent)]


def create_tx(conn: sqlite3.Connection, name: str, special_use: str) -> list[sqlite3.Row]:
    """Create a mailbox (name checked already) and its missing parents (RFC 3501 6.3.3); returns the rows of
    those created, the mailbox last."""
    if _exists_tx(conn, name):
        raise MailboxExists(name)
    return _create_parents_tx(conn, name) + [_insert_tx(conn, name, special_use)]


def _has_children_tx(conn: sqlite3.Connection, name: str) -> bool:
    prefix = name + "/"
    return conn.execute("select 1 from mailboxes where substr(name, 1, ?) = ?", (len(prefix), prefix)).fetchone() \
        is not None


def delete_tx(conn: sqlite3.Connection, name: str) -> tuple[int, list[sqlite3.Row]]:
    """Remove a mailbox and its messages' rows; returns its id and the removed rows (id, uid, path)."""
    box = find_tx(conn, name)
    if box is None:
        raise MailboxNotFound(name)
    if _has_children_tx(conn, name):
        raise MailboxError("mailbox has children, delete them first")
    removed = conn.execute("delete from messages where mailbox_id = ? returning id, uid, path",
                           (box["id"],)).fetchall()
    conn.execute("delete from mailboxes where id = ?", (box["id"],))
    return box["id"], removed


def rename_check_tx(conn: sqlite3.Connection, old: str, new: str) -> tuple[sqlite3.Row, list[sqlite3.Row]]:
    """The mailbox to rename, after checking that new is free, and the rows of new's missing parents, which
    it creates."""
    box = find_tx(conn, old)
    if box is None:
        raise MailboxNotFound(old)
    if _exists_tx(conn, new):
        raise MailboxExists(new)
    return box, _create_parents_tx(conn, new)


def rename_tx(conn: sqlite3.Connection, box: sqlite3.Row, new: str) -> list[tuple[int, str, str]]:
    """Give a mailbox (not the inbox) and its children the new name; ids, UIDs and UIDVALIDITY stay. Returns
    (id, old name, new name) of each mailbox renamed, the mailbox first."""
    old = box["name"]
    prefix = old + "/"
    children = conn.execute(
        "update mailboxes set name = ? || substr(name, ?) where substr(name, 1, ?) = ? returning id, name",
        (new, len(old) + 1, len(prefix), prefix)).fetchall()
    conn.execute("update mailboxes set name = ? where id = ?", (new, box["id"]))
    return [(box["id"], old, new)] + sorted(((r["id"], old + r["name"][len(new):], r["name"]) for r in children),
                                            key=lambda renamed: renamed[2])


def set_subscribed_tx(conn: sqlite3.Connection, name: str, subscribed: bool) -> None:
    key = _lookup_name(name)
    if key is None or conn.execute("update mailboxes set subscribed = ? where name = ? returning id",
                                   (int(subscribed), key)).fetchone() is None:
        raise MailboxNotFound(name)

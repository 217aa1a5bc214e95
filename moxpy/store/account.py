"""One account's mail: mailboxes, messages, flags, and change notifications.

Each account has its own SQLite index (index.db) and a directory of message
files (msg/). A message's id (MsgID in the webapi) is unique in the account
and never reused; its UID is unique in its mailbox and assigned from the
mailbox's uidnext, as IMAP requires (RFC 3501 2.3.1.1).

Every committed change is announced to subscribers (IMAP sessions, webhook
producers) on the event loop, after the commit.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from ..message import parse as msgparse
from . import flags as flaglib
from .db import Database
from .files import read_message_file, remove_message_file, write_message_file

log = logging.getLogger("moxpy.store")

# RFC 6154 special-use attributes of the mailboxes every account starts with.
DEFAULT_MAILBOXES = (
    ("Inbox", ""),
    ("Sent", "\\Sent"),
    ("Archive", "\\Archive"),
    ("Drafts", "\\Drafts"),
    ("Trash", "\\Trash"),
    ("Junk", "\\Junk"),
)


class MailboxNotFound(Exception):
    pass


class MessageNotFound(Exception):
    pass


@dataclass
class DeliveryMeta:
    """What the SMTP session learned about a message, kept with it."""

    mail_from: str = ""
    rcpt_to: str = ""
    remote_ip: str = ""
    mail_from_validated: bool = False
    msg_from_validated: bool = False
    dkim_domains: list[str] = field(default_factory=list)
    dsn: bool = False


@dataclass
class Change:
    """A committed change: kind is added, flags, removed, or mailboxes."""

    kind: str
    mailbox_id: int = 0
    uids: list[int] = field(default_factory=list)
    msg_ids: list[int] = field(default_factory=list)
    modseq: int = 0


def _schema(conn: sqlite3.Connection) -> None:
    db = sqlite_utils.Database(conn)
    db["mailboxes"].create(
        {"id": int, "name": str, "special_use": str, "uidvalidity": int, "uidnext": int, "subscribed": int},
        pk="id", not_null={"name", "uidvalidity", "uidnext"}, defaults={"special_use": "", "subscribed": 1},
        if_not_exists=True,
    )
    db["mailboxes"].create_index(["name"], unique=True, if_not_exists=True)
    if "messages" not in db.table_names():
        # AUTOINCREMENT: message ids (the webapi's MsgID) are never reused.
        conn.execute("""
            create table messages (
                id integer primary key autoincrement,
                mailbox_id integer not null references mailboxes(id),
                uid integer not null,
                modseq integer not null,
                received real not null,
                path text not null,
                size integer not null,
                flags integer not null default 0,
                keywords text not null default '[]',
                message_id text not null default '',
                subject text not null default '',
                msg_from text not null default '',
                date real,
                mail_from text not null default '',
                rcpt_to text not null default '',
                remote_ip text not null default '',
                mail_from_validated integer not null default 0,
                msg_from_validated integer not null default 0,
                dkim_domains text not null default '[]',
                dsn integer not null default 0
            )""")
    db["messages"].create_index(["mailbox_id", "uid"], unique=True, if_not_exists=True)
    db["meta"].create({"key": str, "value": int}, pk="key", if_not_exists=True)
    conn.execute("insert or ignore into meta (key, value) values ('modseq', 1)")
    now = int(time.time())
    for i, (name, special_use) in enumerate(DEFAULT_MAILBOXES):
        conn.execute(
            "insert or ignore into mailboxes (name, special_use, uidvalidity, uidnext, subscribed) values (?, ?, ?, 1, 1)",
            (name, special_use, now + i),
        )


def _mailbox_name(name: str) -> str:
    # RFC 3501 5.1: INBOX is case-insensitive; other names are not.
    return "Inbox" if name.lower() == "inbox" else name


def _next_modseq(conn: sqlite3.Connection) -> int:
    return conn.execute("update meta set value = value + 1 where key = 'modseq' returning value").fetchone()[0]


class Account:
    def __init__(self, name: str, directory: str):
        self.name = name
        self.directory = directory
        self.msg_dir = os.path.join(directory, "msg")
        os.makedirs(self.msg_dir, exist_ok=True)
        self.db = Database(os.path.join(directory, "index.db"), _schema)
        self._subscribers: list[Callable[[Change], None]] = []

    def close(self) -> None:
        self.db.close()

    # Change notifications.

    def subscribe(self, callback: Callable[[Change], None]) -> Callable[[], None]:
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None

    def _broadcast(self, change: Change) -> None:
        for callback in list(self._subscribers):
            try:
                callback(change)
            except Exception:
                log.exception("change subscriber failed")

    # Mailboxes.

    def mailboxes(self) -> list[sqlite3.Row]:
        return self.db.query("select * from mailboxes order by name = 'Inbox' desc, name")

    def mailbox(self, name: str) -> sqlite3.Row | None:
        return self.db.query_one("select * from mailboxes where name = ?", (_mailbox_name(name),))

    def mailbox_by_id(self, mailbox_id: int) -> sqlite3.Row | None:
        return self.db.query_one("select * from mailboxes where id = ?", (mailbox_id,))

    # Messages.

    def message(self, msg_id: int) -> sqlite3.Row | None:
        return self.db.query_one("select * from messages where id = ?", (msg_id,))

    def message_bytes(self, row: sqlite3.Row) -> bytes:
        return read_message_file(self.msg_dir, row["path"])

    def message_path(self, row: sqlite3.Row) -> str:
        return os.path.join(self.msg_dir, row["path"])

    async def deliver(
        self,
        data: bytes,
        mailbox: str = "Inbox",
        *,
        flags: int = 0,
        keywords: list[str] | None = None,
        received: float | None = None,
        meta: DeliveryMeta | None = None,
    ) -> sqlite3.Row:
        """Store a message durably (file and index fsync'ed) and return its row."""
        loop = asyncio.get_running_loop()
        relpath, bucket = await loop.run_in_executor(None, write_message_file, self.msg_dir, data)
        info = msgparse.summary(data)
        meta = meta or DeliveryMeta()
        received = time.time() if received is None else received

        def insert(conn: sqlite3.Connection) -> sqlite3.Row:
            box = conn.execute("select id, uidnext from mailboxes where name = ?", (_mailbox_name(mailbox),)).fetchone()
            if box is None:
                raise MailboxNotFound(mailbox)
            conn.execute("update mailboxes set uidnext = uidnext + 1 where id = ?", (box["id"],))
            modseq = _next_modseq(conn)
            return conn.execute(
                """insert into messages (mailbox_id, uid, modseq, received, path, size, flags, keywords,
                       message_id, subject, msg_from, date, mail_from, rcpt_to, remote_ip,
                       mail_from_validated, msg_from_validated, dkim_domains, dsn)
                   values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) returning *""",
                (box["id"], box["uidnext"], modseq, received, relpath, len(data), flags, json.dumps(keywords or []),
                 info["message_id"], info["subject"], info["msg_from"], info["date"], meta.mail_from, meta.rcpt_to,
                 meta.remote_ip, meta.mail_from_validated, meta.msg_from_validated, json.dumps(meta.dkim_domains),
                 meta.dsn),
            ).fetchone()

        try:
            row = await self.db.write(insert, sync_dirs=[bucket])
        except BaseException:
            remove_message_file(self.msg_dir, relpath)
            raise
        self._broadcast(Change("added", row["mailbox_id"], [row["uid"]], [row["id"]], row["modseq"]))
        return row

    async def change_flags(self, msg_id: int, add: list[str], remove: list[str]) -> None:
        """Add and remove flags (system flags and keywords) of one message."""
        add_mask, add_keywords = flaglib.parse(add)
        remove_mask, remove_keywords = flaglib.parse(remove)

        def update(conn: sqlite3.Connection) -> sqlite3.Row | None:
            row = conn.execute("select * from messages where id = ?", (msg_id,)).fetchone()
            if row is None:
                raise MessageNotFound(msg_id)
            keywords = (set(json.loads(row["keywords"])) | set(add_keywords)) - set(remove_keywords)
            mask = (row["flags"] | add_mask) & ~remove_mask
            if mask == row["flags"] and sorted(keywords) == json.loads(row["keywords"]):
                return None
            return conn.execute(
                "update messages set flags = ?, keywords = ?, modseq = ? where id = ? returning *",
                (mask, json.dumps(sorted(keywords)), _next_modseq(conn), msg_id),
            ).fetchone()

        row = await self.db.write(update)
        if row is not None:
            self._broadcast(Change("flags", row["mailbox_id"], [row["uid"]], [row["id"]], row["modseq"]))

    async def move(self, msg_id: int, mailbox: str) -> None:
        """Move a message to another mailbox; it keeps its id and gets a new UID there."""

        def update(conn: sqlite3.Connection) -> tuple[sqlite3.Row, sqlite3.Row] | None:
            row = conn.execute("select * from messages where id = ?", (msg_id,)).fetchone()
            if row is None:
                raise MessageNotFound(msg_id)
            box = conn.execute("select id, uidnext from mailboxes where name = ?", (_mailbox_name(mailbox),)).fetchone()
            if box is None:
                raise MailboxNotFound(mailbox)
            if box["id"] == row["mailbox_id"]:
                return None
            conn.execute("update mailboxes set uidnext = uidnext + 1 where id = ?", (box["id"],))
            new = conn.execute(
                "update messages set mailbox_id = ?, uid = ?, modseq = ? where id = ? returning *",
                (box["id"], box["uidnext"], _next_modseq(conn), msg_id),
            ).fetchone()
            return row, new

        result = await self.db.write(update)
        if result is not None:
            old, new = result
            self._broadcast(Change("removed", old["mailbox_id"], [old["uid"]], [old["id"]], new["modseq"]))
            self._broadcast(Change("added", new["mailbox_id"], [new["uid"]], [new["id"]], new["modseq"]))

    async def delete(self, msg_id: int) -> None:
        """Remove a message for good (not to Trash): its row, then its file."""

        def remove(conn: sqlite3.Connection) -> sqlite3.Row:
            row = conn.execute("delete from messages where id = ? returning *", (msg_id,)).fetchone()
            if row is None:
                raise MessageNotFound(msg_id)
            _next_modseq(conn)
            return row

        row = await self.db.write(remove)
        remove_message_file(self.msg_dir, row["path"])
        self._broadcast(Change("removed", row["mailbox_id"], [row["uid"]], [row["id"]], row["modseq"]))


def row_flags(row: sqlite3.Row) -> list[str]:
    return flaglib.names(row["flags"], json.loads(row["keywords"]))



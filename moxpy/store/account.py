"""One account's mail: mailboxes, messages, flags, and change notifications.

Each account has its own SQLite index (index.db) and a directory of message
files (msg/). A message's id (MsgID in the webapi) is unique in the account
and never reused; its UID is unique in its mailbox and assigned from the
mailbox's uidnext, as IMAP requires (RFC 3501 2.3.1.1).

Every committed change is announced to subscribers (IMAP sessions, webhook
producers) on the event loop, after the commit.

Each mailbox keeps the keywords ever used in it (IMAP's FLAGS response
lists them) and the highest UID an IMAP session has claimed as recent
(RFC 3501 2.3.2 \\Recent: the first session to see a message gets it).
"""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

import sqlite_utils

from ..message import parse as msgparse
from ..message import part as partlib
from . import flags as flaglib
from .db import Database, fsync_dir
from .files import link_message_file, read_message_file, remove_message_file, write_message_file

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


class MailboxExists(Exception):
    pass


class MailboxError(ValueError):
    """A mailbox operation that is not allowed; the message says why."""


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
    """A committed change: kind is added, flags, removed, keywords (a mailbox has new keywords) or mailboxes."""

    kind: str
    mailbox_id: int = 0
    uids: list[int] = field(default_factory=list)
    msg_ids: list[int] = field(default_factory=list)
    modseq: int = 0
    origin: Any = None  # who asked for the change (e.g. an IMAP session), so it can skip its own echo


def _schema(conn: sqlite3.Connection, msg_dir: str) -> None:
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
    # The MIME tree with byte offsets (message.part), so IMAP FETCH needs no parse.
    conn.execute("""
        create table if not exists message_parts (
            message_id integer primary key references messages(id) on delete cascade,
            data blob not null
        )""")
    conn.execute("insert or ignore into meta (key, value) values ('modseq', 1)")
    _add_columns(conn, msg_dir)
    now = int(time.time())
    for i, (name, special_use) in enumerate(DEFAULT_MAILBOXES):
        conn.execute(
            "insert or ignore into mailboxes (name, special_use, uidvalidity, uidnext, subscribed) values (?, ?, ?, 1, 1)",
            (name, special_use, now + i),
        )


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in conn.execute(f"pragma table_info({table})")}


def _add_columns(conn: sqlite3.Connection, msg_dir: str) -> None:
    """Columns added after the first version, filled in for the rows already there."""
    if "keywords" not in _columns(conn, "mailboxes"):
        # The keywords (JSON list, sorted) used by any message that was ever in the mailbox.
        conn.execute("alter table mailboxes add column keywords text not null default '[]'")
        for box in conn.execute("select id from mailboxes").fetchall():
            used: set[str] = set()
            for (keywords,) in conn.execute("select keywords from messages where mailbox_id = ? and keywords != '[]'",
                                            (box["id"],)):
                used.update(json.loads(keywords))
            conn.execute("update mailboxes set keywords = ? where id = ?", (json.dumps(sorted(used)), box["id"]))
    if "recent_uid" not in _columns(conn, "mailboxes"):
        # The highest UID claimed as \Recent by a session; what was there before counts as seen.
        conn.execute("alter table mailboxes add column recent_uid integer not null default 0")
        conn.execute("update mailboxes set recent_uid = uidnext - 1")
    if "sent_day" not in _columns(conn, "messages"):
        # The calendar day of the Date header in its own time zone, as date.toordinal() (RFC 3501 6.4.4 SENT*).
        conn.execute("alter table messages add column sent_day integer")
        for row in conn.execute("select id, path, date from messages where date is not null").fetchall():
            conn.execute("update messages set sent_day = ? where id = ?", (_stored_sent_day(msg_dir, row), row["id"]))


def _sent_day(headers: Message) -> int | None:
    sent = msgparse.date(headers)
    return sent.date().toordinal() if sent is not None else None


def _stored_sent_day(msg_dir: str, row: sqlite3.Row) -> int | None:
    try:
        with open(os.path.join(msg_dir, row["path"]), "rb") as f:
            head = f.read(1024 * 1024)  # the header section, in all but absurd messages
        day = _sent_day(msgparse.parse_headers(head))
    except (OSError, ValueError):
        day = None
    if day is None:
        day = datetime.datetime.fromtimestamp(row["date"], datetime.timezone.utc).date().toordinal()
    return day


def _add_keywords(conn: sqlite3.Connection, mailbox_id: int, keywords) -> bool:
    """Note keywords as used in a mailbox; True when any is new there."""
    keywords = set(keywords)
    if not keywords:
        return False
    (current,) = conn.execute("select keywords from mailboxes where id = ?", (mailbox_id,)).fetchone()
    known = set(json.loads(current))
    if keywords <= known:
        return False
    conn.execute("update mailboxes set keywords = ? where id = ?", (json.dumps(sorted(known | keywords)), mailbox_id))
    return True


def _mailbox_name(name: str) -> str:
    # RFC 3501 5.1: INBOX is case-insensitive, also as the parent of other mailboxes; other names are not.
    first, sep, rest = name.partition("/")
    return "Inbox" + sep + rest if first.lower() == "inbox" else name


def _next_modseq(conn: sqlite3.Connection) -> int:
    return conn.execute("update meta set value = value + 1 where key = 'modseq' returning value").fetchone()[0]


class Account:
    def __init__(self, name: str, directory: str):
        self.name = name
        self.directory = directory
        self.msg_dir = os.path.join(directory, "msg")
        os.makedirs(self.msg_dir, exist_ok=True)
        self.db = Database(os.path.join(directory, "index.db"), lambda conn: _schema(conn, self.msg_dir))
        self._subscribers: list[Callable[[Change], None]] = []
        # Mailbox id -> highest UID claimed as recent. Claims are made here, on the event loop, so two
        # sessions never claim the same message; the database keeps them across restarts.
        self._recent: dict[int, int] = {}
        self._recent_unsaved: set[int] = set()
        self._recent_saving: asyncio.Task | None = None

    def close(self) -> None:
        claims = [(self._recent[i], i) for i in self._recent_unsaved if i in self._recent]
        if claims:
            self.db.write_sync(lambda conn: conn.executemany(
                "update mailboxes set recent_uid = max(recent_uid, ?) where id = ?", claims))
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
        headers: Message | None = None,
    ) -> sqlite3.Row:
        """Store a message durably (file and index fsync'ed) and return its row.

        headers: the message's header section when the caller parsed it already.
        """
        loop = asyncio.get_running_loop()
        relpath, bucket = await loop.run_in_executor(None, write_message_file, self.msg_dir, data)
        if headers is None:
            headers = msgparse.parse_headers(data)
        info = msgparse.summary(data, headers)
        sent_day = _sent_day(headers)
        parts = partlib.encode(partlib.parse(data))
        meta = meta or DeliveryMeta()
        received = time.time() if received is None else received

        def insert(conn: sqlite3.Connection) -> tuple[sqlite3.Row, bool]:
            box = conn.execute("select id, uidnext from mailboxes where name = ?", (_mailbox_name(mailbox),)).fetchone()
            if box is None:
                raise MailboxNotFound(mailbox)
            conn.execute("update mailboxes set uidnext = uidnext + 1 where id = ?", (box["id"],))
            modseq = _next_modseq(conn)
            row = conn.execute(
                """insert into messages (mailbox_id, uid, modseq, received, path, size, flags, keywords,
                       message_id, subject, msg_from, date, sent_day, mail_from, rcpt_to, remote_ip,
                       mail_from_validated, msg_from_validated, dkim_domains, dsn)
                   values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) returning *""",
                (box["id"], box["uidnext"], modseq, received, relpath, len(data), flags, json.dumps(keywords or []),
                 info["message_id"], info["subject"], info["msg_from"], info["date"], sent_day, meta.mail_from,
                 meta.rcpt_to, meta.remote_ip, meta.mail_from_validated, meta.msg_from_validated,
                 json.dumps(meta.dkim_domains), meta.dsn),
            ).fetchone()
            conn.execute("insert into message_parts (message_id, data) values (?, ?)", (row["id"], parts))
            return row, _add_keywords(conn, box["id"], keywords or [])

        try:
            row, new_keywords = await self.db.write(insert, sync_dirs=[bucket])
        except BaseException:
            remove_message_file(self.msg_dir, relpath)
            raise
        if new_keywords:
            self._broadcast(Change("keywords", row["mailbox_id"]))
        self._broadcast(Change("added", row["mailbox_id"], [row["uid"]], [row["id"]], row["modseq"]))
        return row

    async def change_flags(self, msg_id: int, add: list[str], remove: list[str]) -> None:
        """Add and remove flags (system flags and keywords) of one message."""
        add_mask, add_keywords = flaglib.parse(add)
        remove_mask, remove_keywords = flaglib.parse(remove)

        def update(conn: sqlite3.Connection) -> tuple[sqlite3.Row | None, bool]:
            row = conn.execute("select * from messages where id = ?", (msg_id,)).fetchone()
            if row is None:
                raise MessageNotFound(msg_id)
            keywords = (set(json.loads(row["keywords"])) | set(add_keywords)) - set(remove_keywords)
            mask = (row["flags"] | add_mask) & ~remove_mask
            if mask == row["flags"] and sorted(keywords) == json.loads(row["keywords"]):
                return None, False
            return conn.execute(
                "update messages set flags = ?, keywords = ?, modseq = ? where id = ? returning *",
                (mask, json.dumps(sorted(keywords)), _next_modseq(conn), msg_id),
            ).fetchone(), _add_keywords(conn, row["mailbox_id"], keywords)

        row, new_keywords = await self.db.write(update)
        if new_keywords:
            self._broadcast(Change("keywords", row["mailbox_id"]))
        if row is not None:
            self._broadcast(Change("flags", row["mailbox_id"], [row["uid"]], [row["id"]], row["modseq"]))

    async def move(self, msg_id: int, mailbox: str) -> None:
        """Move a message to another mailbox; it keeps its id and gets a new UID there."""

        def update(conn: sqlite3.Connection) -> tuple[sqlite3.Row, sqlite3.Row, bool] | None:
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
            return row, new, _add_keywords(conn, box["id"], json.loads(row["keywords"]))

        result = await self.db.write(update)
        if result is not None:
            old, new, new_keywords = result
            if new_keywords:
                self._broadcast(Change("keywords", new["mailbox_id"]))
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

    # Mailbox management, for IMAP. Names use "/" as hierarchy separator.

    def mailbox_children(self, name: str) -> list[sqlite3.Row]:
        prefix = name + "/"
        return self.db.query("select * from mailboxes where substr(name, 1, ?) = ? order by name",
                             (len(prefix), prefix))

    async def create_mailbox(self, name: str, special_use: str = "") -> sqlite3.Row:
        """Create a mailbox and any missing parents (RFC 3501 6.3.3); MailboxExists when it is there."""
        name = mailbox_name(name)

        def create(conn: sqlite3.Connection) -> sqlite3.Row:
            if conn.execute("select 1 from mailboxes where name = ?", (name,)).fetchone():
                raise MailboxExists(name)
            for parent in _parents(name):
                if not conn.execute("select 1 from mailboxes where name = ?", (parent,)).fetchone():
                    _insert_mailbox(conn, parent, "")
            return _insert_mailbox(conn, name, special_use)

        row = await self.db.write(create)
        self._broadcast(Change("mailboxes", row["id"]))
        return row

    async def delete_mailbox(self, name: str) -> None:
        """Remove a mailbox with its messages; not the Inbox, not one with children."""
        name = mailbox_name(name)
        if name == "Inbox":
            raise MailboxError("the inbox cannot be deleted")

        def delete(conn: sqlite3.Connection) -> tuple[int, list[sqlite3.Row]]:
            box = conn.execute("select id from mailboxes where name = ?", (name,)).fetchone()
            if box is None:
                raise MailboxNotFound(name)
            prefix = name + "/"
            if conn.execute("select 1 from mailboxes where substr(name, 1, ?) = ?", (len(prefix), prefix)).fetchone():
                raise MailboxError("mailbox has children, delete them first")
            rows = conn.execute("delete from messages where mailbox_id = ? returning id, uid, path",
                                (box["id"],)).fetchall()
            conn.execute("delete from mailboxes where id = ?", (box["id"],))
            _next_modseq(conn)
            return box["id"], rows

        mailbox_id, rows = await self.db.write(delete)
        # A later mailbox may get the same id; it starts without recent claims.
        self._recent.pop(mailbox_id, None)
        for row in rows:
            remove_message_file(self.msg_dir, row["path"])
        if rows:
            self._broadcast(Change("removed", mailbox_id, [r["uid"] for r in rows], [r["id"] for r in rows]))
        self._broadcast(Change("mailboxes", mailbox_id))

    async def rename_mailbox(self, old: str, new: str) -> None:
        """Rename a mailbox and its children (RFC 3501 6.3.5); UIDs and UIDVALIDITY stay.

        Renaming the Inbox moves its messages to a new mailbox and leaves the
        Inbox empty, as RFC 3501 6.3.5 describes.
        """
        old, new = mailbox_name(old), mailbox_name(new)
        if new == "Inbox":
            raise MailboxError("cannot rename to the inbox")
        if new == old or new.startswith(old + "/"):
            raise MailboxError("cannot rename a mailbox to itself or below itself")

        def rename(conn: sqlite3.Connection) -> list[Change]:
            box = conn.execute("select * from mailboxes where name = ?", (old,)).fetchone()
            if box is None:
                raise MailboxNotFound(old)
            if conn.execute("select 1 from mailboxes where name = ?", (new,)).fetchone():
                raise MailboxExists(new)
            for parent in _parents(new):
                if not conn.execute("select 1 from mailboxes where name = ?", (parent,)).fetchone():
                    _insert_mailbox(conn, parent, "")
            if old == "Inbox":
                dest = _insert_mailbox(conn, new, "")
                uids = [r["uid"] for r in conn.execute("select uid from messages where mailbox_id = ? order by uid",
                                                        (box["id"],))]
                return _move(conn, box["id"], uids, dest)[1]
            prefix = old + "/"
            conn.execute("update mailboxes set name = ? || substr(name, ?) where substr(name, 1, ?) = ?",
                         (new, len(old) + 1, len(prefix), prefix))
            conn.execute("update mailboxes set name = ? where id = ?", (new, box["id"]))
            return []

        for change in await self.db.write(rename):
            self._broadcast(change)
        self._broadcast(Change("mailboxes"))

    async def set_subscribed(self, name: str, subscribed: bool) -> None:
        name = mailbox_name(name)

        def update(conn: sqlite3.Connection) -> None:
            if conn.execute("update mailboxes set subscribed = ? where name = ? returning id",
                            (int(subscribed), name)).fetchone() is None:
                raise MailboxNotFound(name)

        await self.db.write(update)

    # Messages of one mailbox, for IMAP sessions.

    def uids(self, mailbox_id: int) -> list[int]:
        return [r[0] for r in self.db.query("select uid from messages where mailbox_id = ? order by uid", (mailbox_id,))]

    def mailbox_status(self, mailbox_id: int) -> dict[str, int]:
        """Counts of a mailbox: messages, unseen, deleted, size, recent (not yet claimed by a session),
        and the lowest unseen UID (0: none)."""
        row = self.db.query_one(
            """select count(*) as messages, coalesce(sum(flags & ? = 0), 0) as unseen,
                      coalesce(sum(flags & ? != 0), 0) as deleted, coalesce(sum(size), 0) as size,
                      coalesce(sum(uid > ?), 0) as recent,
                      coalesce(min(case when flags & ? = 0 then uid end), 0) as first_unseen
               from messages where mailbox_id = ?""",
            (flaglib.SEEN, flaglib.DELETED, self.recent_claimed(mailbox_id), flaglib.SEEN, mailbox_id))
        return dict(row)

    def mailbox_keywords(self, mailbox_id: int) -> list[str]:
        """The keywords used in a mailbox, for IMAP's FLAGS response (RFC 3501 7.2.6)."""
        row = self.db.query_one("select keywords from mailboxes where id = ?", (mailbox_id,))
        return json.loads(row[0]) if row else []

    def recent_claimed(self, mailbox_id: int) -> int:
        """The highest UID of a mailbox that a session has claimed as recent (RFC 3501 2.3.2)."""
        claimed = self._recent.get(mailbox_id)
        if claimed is None:
            row = self.db.query_one("select recent_uid from mailboxes where id = ?", (mailbox_id,))
            claimed = self._recent[mailbox_id] = row[0] if row else 0
        return claimed

    def claim_recent(self, mailbox_id: int, upto: int) -> int:
        """Claim the UIDs up to upto as recent for the caller; returns the highest claimed before.

        The caller's recent messages are those above the returned UID. The claim is saved in
        the background: a crash may lose it, and then the messages are recent once more.
        """
        before = self.recent_claimed(mailbox_id)
        if upto > before:
            self._recent[mailbox_id] = upto
            self._recent_unsaved.add(mailbox_id)
            if self._recent_saving is None:
                self._recent_saving = asyncio.get_running_loop().create_task(self._save_recent())
        return before

    async def _save_recent(self) -> None:
        try:
            while self._recent_unsaved:
                claims = [(self._recent[i], i) for i in self._recent_unsaved if i in self._recent]
                self._recent_unsaved.clear()

                def save(conn: sqlite3.Connection) -> None:
                    conn.executemany("update mailboxes set recent_uid = max(recent_uid, ?) where id = ?", claims)

                await self.db.write(save)
        except Exception:
            log.exception("saving recent claims")
        finally:
            self._recent_saving = None

    def mailbox_rows(self, mailbox_id: int, uids: list[int], *, parts: bool = False) -> list[sqlite3.Row]:
        """Rows of the messages with these UIDs (sorted), optionally with their MIME tree (column parts)."""
        if not uids:
            return []
        columns = "m.*, p.data as parts" if parts else "m.*"
        join = "left join message_parts p on p.message_id = m.id" if parts else ""
        rows = self.db.query(
            f"select {columns} from messages m {join} where m.mailbox_id = ? and m.uid between ? and ? order by m.uid",
            (mailbox_id, uids[0], uids[-1]))
        if len(rows) != len(uids):
            wanted = set(uids)
            rows = [r for r in rows if r["uid"] in wanted]
        return rows

    def message_parts(self, row: sqlite3.Row) -> partlib.Part:
        """The MIME tree of a message row (from its parts column when selected with parts=True)."""
        data = row["parts"] if "parts" in row.keys() else None
        if data:
            return partlib.decode(data)
        return partlib.parse(self.message_bytes(row))

    async def store_flags(self, mailbox_id: int, uids: list[int], mode: str, flags: list[str],
                          origin: Any = None) -> list[sqlite3.Row]:
        """Set ("") or add ("+") or remove ("-") flags on messages; returns the rows that changed."""
        mask, keywords = flaglib.parse(flags)

        def update(conn: sqlite3.Connection) -> tuple[list[sqlite3.Row], bool]:
            changed = []
            modseq = 0
            for row in _rows(conn, mailbox_id, uids, "id, uid, flags, keywords"):
                old_keywords = json.loads(row["keywords"])
                if mode == "+":
                    new_mask, new_keywords = row["flags"] | mask, sorted(set(old_keywords) | set(keywords))
                elif mode == "-":
                    new_mask, new_keywords = row["flags"] & ~mask, sorted(set(old_keywords) - set(keywords))
                else:
                    new_mask, new_keywords = mask, keywords
                if new_mask == row["flags"] and new_keywords == old_keywords:
                    continue
                modseq = modseq or _next_modseq(conn)
                changed.append(conn.execute(
                    "update messages set flags = ?, keywords = ?, modseq = ? where id = ? "
                    "returning id, uid, flags, keywords, modseq",
                    (new_mask, json.dumps(new_keywords), modseq, row["id"])).fetchone())
            return changed, mode != "-" and bool(changed) and _add_keywords(conn, mailbox_id, keywords)

        changed, new_keywords = await self.db.write(update)
        if new_keywords:
            self._broadcast(Change("keywords", mailbox_id, origin=origin))
        if changed:
            self._broadcast(Change("flags", mailbox_id, [r["uid"] for r in changed], [r["id"] for r in changed],
                                   changed[0]["modseq"], origin))
        return changed

    async def copy(self, mailbox_id: int, uids: list[int], dest: str) -> tuple[int, list[tuple[int, int]]]:
        """Copy messages to mailbox dest; returns its UIDVALIDITY and (source UID, new UID) pairs.

        Messages expunged meanwhile are left out (no pairs at all when none is left). The source rows
        are read and the files linked inside the write transaction: a message removed by another
        writer is either gone when this one runs or its file is still there (files are removed only
        after their row's removal is committed).
        """
        dest = mailbox_name(dest)
        created: list[str] = []  # new file names, removed again if the transaction fails

        def insert(conn: sqlite3.Connection) -> tuple[sqlite3.Row, list[tuple[int, int]], list[int], bool]:
            box = conn.execute("select * from mailboxes where name = ?", (dest,)).fetchone()
            if box is None:
                raise MailboxNotFound(dest)
            rows = _rows(conn, mailbox_id, uids, "id, uid, path, keywords")
            if not rows:
                return box, [], [], False
            modseq = _next_modseq(conn)
            pairs, ids, keywords, buckets = [], [], set(), set()
            uid = box["uidnext"]
            for row in rows:
                relpath, bucket = link_message_file(self.msg_dir, row["path"])
                created.append(relpath)
                buckets.add(bucket)
                new_id = conn.execute(
                    """insert into messages (mailbox_id, uid, modseq, received, path, size, flags, keywords, message_id,
                           subject, msg_from, date, sent_day, mail_from, rcpt_to, remote_ip, mail_from_validated,
                           msg_from_validated, dkim_domains, dsn)
                       select ?, ?, ?, received, ?, size, flags, keywords, message_id, subject, msg_from, date,
                           sent_day, mail_from, rcpt_to, remote_ip, mail_from_validated, msg_from_validated,
                           dkim_domains, dsn
                       from messages where id = ? returning id""",
                    (box["id"], uid, modseq, relpath, row["id"])).fetchone()[0]
                conn.execute("insert into message_parts (message_id, data) "
                             "select ?, data from message_parts where message_id = ?", (new_id, row["id"]))
                keywords.update(json.loads(row["keywords"]))
                pairs.append((row["uid"], uid))
                ids.append(new_id)
                uid += 1
            conn.execute("update mailboxes set uidnext = ? where id = ?", (uid, box["id"]))
            new_keywords = _add_keywords(conn, box["id"], keywords)
            # The new names must be durable before the rows pointing to them are committed.
            for bucket in buckets:
                fsync_dir(bucket)
            return box, pairs, ids, new_keywords

        try:
            box, pairs, ids, new_keywords = await self.db.write(insert)
        except BaseException:
            for relpath in created:
                remove_message_file(self.msg_dir, relpath)
            raise
        if new_keywords:
            self._broadcast(Change("keywords", box["id"]))
        if pairs:
            self._broadcast(Change("added", box["id"], [new for _, new in pairs], ids))
        return box["uidvalidity"], pairs

    async def move_uids(self, mailbox_id: int, uids: list[int], dest: str) -> tuple[int, list[tuple[int, int]]]:
        """Move messages to mailbox dest (RFC 6851); they keep their ids and get new UIDs there."""
        dest = mailbox_name(dest)

        def update(conn: sqlite3.Connection):
            box = conn.execute("select * from mailboxes where name = ?", (dest,)).fetchone()
            if box is None:
                raise MailboxNotFound(dest)
            if box["id"] == mailbox_id:
                raise MailboxError("cannot move to the same mailbox")
            pairs, changes = _move(conn, mailbox_id, uids, box)
            return box["uidvalidity"], pairs, changes

        uidvalidity, pairs, changes = await self.db.write(update)
        for change in changes:
            self._broadcast(change)
        return uidvalidity, pairs

    async def expunge(self, mailbox_id: int, uids: list[int] | None = None) -> list[int]:
        """Remove the messages flagged \\Deleted (only those among uids when given); returns their UIDs."""

        def remove(conn: sqlite3.Connection) -> list[sqlite3.Row]:
            rows = [r for r in _rows(conn, mailbox_id, uids, "id, uid, flags") if r["flags"] & flaglib.DELETED]
            removed = []
            for row in rows:
                removed.append(conn.execute("delete from messages where id = ? returning id, uid, path",
                                            (row["id"],)).fetchone())
            if removed:
                _next_modseq(conn)
            return removed

        removed = await self.db.write(remove)
        for row in removed:
            remove_message_file(self.msg_dir, row["path"])
        if removed:
            self._broadcast(Change("removed", mailbox_id, [r["uid"] for r in removed], [r["id"] for r in removed]))
        return [r["uid"] for r in removed]

    def search(self, mailbox_id: int, criteria) -> list[int]:
        """UIDs of the messages matching a search.Criteria tree, in UID order."""
        from . import search

        return search.run(self, mailbox_id, criteria)


def mailbox_name(name: str) -> str:
    """A mailbox name checked and normalised: INBOX in any case is "Inbox", also as a parent."""
    if not name or name.startswith("/") or name.endswith("/") or "//" in name:
        raise MailboxError("invalid mailbox name: empty, or with a leading, trailing or doubled /")
    if any(c in "%*" or ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        raise MailboxError("invalid mailbox name: it contains a wildcard (* or %) or a control character")
    return _mailbox_name(name)


def _parents(name: str) -> list[str]:
    elems = name.split("/")
    return ["/".join(elems[:i]) for i in range(1, len(elems))]


def _insert_mailbox(conn: sqlite3.Connection, name: str, special_use: str) -> sqlite3.Row:
    # RFC 3501 2.3.1.1: a name used again must get a higher UIDVALIDITY than before.
    (highest,) = conn.execute("select coalesce(max(value), 0) from meta where key = 'uidvalidity'").fetchone()
    (current,) = conn.execute("select coalesce(max(uidvalidity), 0) from mailboxes").fetchone()
    uidvalidity = max(int(time.time()), highest + 1, current + 1)
    conn.execute("insert or replace into meta (key, value) values ('uidvalidity', ?)", (uidvalidity,))
    return conn.execute(
        "insert into mailboxes (name, special_use, uidvalidity, uidnext, subscribed) values (?, ?, ?, 1, 1) returning *",
        (name, special_use, uidvalidity)).fetchone()


def _rows(conn: sqlite3.Connection, mailbox_id: int, uids: list[int] | None, columns: str) -> list[sqlite3.Row]:
    if uids is None:
        return conn.execute(f"select {columns} from messages where mailbox_id = ? order by uid", (mailbox_id,)).fetchall()
    if not uids:
        return []
    wanted = set(uids)
    rows = conn.execute(f"select {columns} from messages where mailbox_id = ? and uid between ? and ? order by uid",
                        (mailbox_id, min(uids), max(uids))).fetchall()
    return [r for r in rows if r["uid"] in wanted]


def _move(conn: sqlite3.Connection, mailbox_id: int, uids: list[int], box: sqlite3.Row):
    rows = _rows(conn, mailbox_id, uids, "id, uid, keywords")
    if not rows:
        return [], []
    modseq = _next_modseq(conn)
    uid = conn.execute("select uidnext from mailboxes where id = ?", (box["id"],)).fetchone()[0]
    pairs = []
    for row in rows:
        conn.execute("update messages set mailbox_id = ?, uid = ?, modseq = ? where id = ?",
                     (box["id"], uid, modseq, row["id"]))
        pairs.append((row["uid"], uid))
        uid += 1
    conn.execute("update mailboxes set uidnext = ? where id = ?", (uid, box["id"]))
    ids = [r["id"] for r in rows]
    changes = [Change("removed", mailbox_id, [old for old, _ in pairs], ids, modseq)]
    if _add_keywords(conn, box["id"], {k for r in rows for k in json.loads(r["keywords"])}):
        changes.append(Change("keywords", box["id"]))
    changes.append(Change("added", box["id"], [new for _, new in pairs], ids, modseq))
    return pairs, changes


def row_flags(row: sqlite3.Row) -> list[str]:
    return flaglib.names(row["flags"], json.loads(row["keywords"]))



"""One account over SQLite: its index (index.db, see schema.py) and a
directory of message files (msg/, see store.files); or, the same class
over another engine's storage (see Storage, and pg/accounts.py), its
index and its messages' bytes in a PostgreSQL schema.

This class keeps the contract of store.accounts.Account: each change runs
as one transaction of the group-commit writer (store.db), message files are
written and fsync'ed before the rows naming them are committed and removed
only after the rows' removal is, and subscribers hear of a change after its
commit. Every change goes through _write, which writes the Change records
the transaction made to the change log in that transaction (changelog.py).
The SQL is in the modules named for their concern.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import time
from collections.abc import Callable
from email.message import Message as EmailMessage
from typing import Any, BinaryIO, Protocol

from ...message import parse as msgparse
from ...message import part as partlib
from .. import flags as flaglib
from .. import mailboxname
from ..accounts import (Change, ChangePosition, Copied, DeliveryMeta, LoggedChange, Mailbox, MailboxError,
                        MailboxNotFound, MailboxStatus, Message, MessageNotFound, Summary, SummaryPage)
from ..db import Database
from ..search import Criteria, MessageFilter
from . import (changelog, copymove, flagchange, listing, mailboxes, messages, modseqs, rows, schema, search,
               summaries)
from .bodies import MessageFiles
from .rules import SQLiteRules
from .recent import RecentClaims

log = logging.getLogger("moxpy.store")


class Storage(Protocol):
    """Where an account's index and message bytes are: db (store.db.Database or pg.db.PgDatabase), bodies
    (bodies.py), and identity(), which changes when the storage is removed and made anew."""

    db: Any
    bodies: Any

    def identity(self) -> object: ...

    def changed_tx(self, conn: Any, changes: list[Change]) -> None:
        """Called in each transaction that logs changes, before its commit (pg/nodes.py tells other nodes)."""


class LocalStorage:
    """An account's directory: its index (index.db) and its message files (msg/)."""

    def __init__(self, directory: str, readonly: bool):
        msg_dir = os.path.join(directory, "msg")
        self.index = os.path.join(directory, "index.db")
        if readonly:
            if not os.path.exists(self.index):
                raise FileNotFoundError(f"no account index at {self.index}")
            self.db = Database(self.index, readonly=True)
            try:
                schema.MIGRATIONS.check(self.db, self.index)
            except BaseException:
                self.db.close()
                raise
        else:
            os.makedirs(msg_dir, exist_ok=True)
            self.db = Database(self.index, lambda conn: schema.MIGRATIONS.upgrade(conn, self.index, msg_dir))
        self.bodies = MessageFiles(msg_dir)

    def identity(self) -> tuple[int, int] | None:
        return _identity(self.index)

    def changed_tx(self, conn: Any, changes: list[Change]) -> None:
        pass  # one server: its processes hear of changes over their link


class SQLiteAccount:
    def __init__(self, name: str, directory: str, *, readonly: bool = False,
                 relay: Callable[[str, list[Change]], None] | None = None, storage: Storage | None = None):
        """Open (and create) the account in directory, or in storage when given; readonly: only read, for tools
        beside a running server; relay: called with the account's name and the changes of each commit, after
        the subscribers."""
        self.name = name
        self.directory = directory
        self._storage = storage if storage is not None else LocalStorage(directory, readonly)
        self.db = self._storage.db
        self.bodies = self._storage.bodies
        self.msg_dir = self.bodies.msg_dir
        self._subscribers: list[Callable[[Change], None]] = []
        self._removal_callbacks: list[Callable[[], None]] = []
        self._relay = relay
        self._recent = RecentClaims(self.db)
        self._identity = self._storage.identity()
        self._closed = False
        self.rules = SQLiteRules(self.db)
        # Set by a store whose database other nodes share (pg/nodes.py): hears of their changes from the log.
        self.follower = None

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if not self.db.readonly:
            try:
                self._recent.save_sync()
            except Exception as e:  # the database's own error, whichever engine
                log.warning("saving recent claims at close account=%s: %s", self.name, e)
        self.db.close()

    def replaced(self) -> bool:
        """Whether the index this account opened is no longer the one in storage (removed, or made anew)."""
        return self._storage.identity() != self._identity

    def on_removed(self, callback: Callable[[], None]) -> Callable[[], None]:
        self._removal_callbacks.append(callback)
        return lambda: self._removal_callbacks.remove(callback) if callback in self._removal_callbacks else None

    def removed(self) -> None:
        """Tell those holding the account that it is going away (Store.forget), before it is closed."""
        for callback in list(self._removal_callbacks):
            try:
                callback()
            except Exception:
                log.exception("account removal callback failed")
        self._removal_callbacks.clear()
        self._subscribers.clear()

    # Change notifications.

    def subscribe(self, callback: Callable[[Change], None]) -> Callable[[], None]:
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None

    def announce(self, changes: list[Change]) -> None:
        if self.follower is not None:
            self.follower.noted(changes)
        self._tell_subscribers(changes)

    async def _write(self, fn: Callable[[sqlite3.Connection], tuple[Any, list[Change]]], sync_dirs=()
                     ) -> tuple[Any, list[Change]]:
        """Run fn(conn) -> (result, changes) as one transaction, with the changes in the change log;
        returns both once committed. The caller announces the changes (_broadcast) once it has done what
        must come first, such as removing the files of removed messages."""
        def job(conn: sqlite3.Connection) -> tuple[Any, list[Change]]:
            result, changes = fn(conn)
            changelog.record_tx(conn, changes)
            if changes:
                self._storage.changed_tx(conn, changes)
            return result, changes

        return await self.db.write(job, sync_dirs=sync_dirs)

    def _broadcast(self, changes: list[Change]) -> None:
        if self.follower is not None:
            self.follower.noted(changes)
        self._tell_subscribers(changes)
        if self._relay is not None and changes:
            self._relay(self.name, changes)

    def _tell_subscribers(self, changes: list[Change]) -> None:
        for change in changes:
            for callback in list(self._subscribers):
                try:
                    callback(change)
                except Exception:
                    log.exception("change subscriber failed")

    # Mailboxes.

    def mailboxes(self) -> list[Mailbox]:
        return mailboxes.list_all(self.db)

    def mailbox(self, name: str) -> Mailbox | None:
        return mailboxes.by_name(self.db, name)

    def mailbox_by_id(self, mailbox_id: int) -> Mailbox | None:
        return mailboxes.by_id(self.db, mailbox_id)

    def mailbox_status(self, mailbox_id: int) -> MailboxStatus:
        return mailboxes.status(self.db, mailbox_id, self.recent_claimed(mailbox_id))

    async def create_mailbox(self, name: str, special_use: str = "") -> Mailbox:
        name = mailboxname.check(name)

        def create(conn: sqlite3.Connection) -> tuple[sqlite3.Row, list[Change]]:
            created = mailboxes.create_tx(conn, name, special_use)
            return created[-1], _created(created, messages.next_modseq_tx(conn))

        row, changes = await self._write(create)
        self._broadcast(changes)
        return rows.mailbox(row)

    async def delete_mailbox(self, name: str) -> None:
        name = mailboxname.check(name)
        if name == mailboxname.INBOX:
            raise MailboxError("the inbox cannot be deleted")

        def delete(conn: sqlite3.Connection) -> tuple[tuple[int, list[sqlite3.Row]], list[Change]]:
            mailbox_id, removed = mailboxes.delete_tx(conn, name)
            modseq = messages.next_modseq_tx(conn)
            changes = [Change("removed", mailbox_id, [r["uid"] for r in removed], [r["id"] for r in removed], modseq,
                              mailbox_name=name)] if removed else []
            return (mailbox_id, removed), changes + [Change("mailbox_deleted", mailbox_id, modseq=modseq,
                                                            mailbox_name=name)]

        (mailbox_id, removed), changes = await self._write(delete)
        self._recent.forget(mailbox_id)
        for row in removed:
            self.bodies.discard(row["path"])
        self._broadcast(changes)

    async def rename_mailbox(self, old: str, new: str) -> None:
        old, new = mailboxname.check(old), mailboxname.check(new)
        if new == mailboxname.INBOX:
            raise MailboxError("cannot rename to the inbox")
        if new == old or mailboxname.is_below(new, old):
            raise MailboxError("cannot rename a mailbox to itself or below itself")

        def rename(conn: sqlite3.Connection) -> tuple[None, list[Change]]:
            box, parents = mailboxes.rename_check_tx(conn, old, new)
            modseq = messages.next_modseq_tx(conn)
            if old != mailboxname.INBOX:
                return None, _created(parents, modseq) + [
                    Change("mailbox_renamed", mailbox_id, modseq=modseq, mailbox_name=to, old_name=before)
                    for mailbox_id, before, to in mailboxes.rename_tx(conn, box, new)]
            # RFC 3501 6.3.5: renaming the inbox moves its messages to a new mailbox; the inbox stays, empty.
            created = parents + mailboxes.create_tx(conn, new, "")
            moving = messages.in_mailbox_tx(conn, box["id"], None, "id, mailbox_id, uid, keywords")
            return None, _created(created, modseq) + copymove.move_tx(conn, moving, created[-1])[1]

        _, changes = await self._write(rename)
        self._broadcast(changes)

    async def set_subscribed(self, name: str, subscribed: bool) -> None:
        name = mailboxname.check(name)
        await self.db.write(lambda conn: mailboxes.set_subscribed_tx(conn, name, subscribed))

    # Messages.

    def message(self, msg_id: int) -> Message | None:
        return messages.get(self.db, msg_id)

    def uids(self, mailbox_id: int) -> list[int]:
        return messages.uids(self.db, mailbox_id)

    def messages(self, mailbox_id: int, uids: list[int], *, parts: bool = False) -> list[Message]:
        return messages.in_mailbox(self.db, mailbox_id, uids, parts)

    def message_bytes(self, message: Message) -> bytes:
        return self.bodies.read(message.id, message.ref)

    def message_bytes_cached(self, message: Message) -> bytes | None:
        return self.bodies.read_cached(message.id, message.ref)

    def open_message(self, message: Message) -> BinaryIO:
        return self.bodies.open(message.id, message.ref, message.size)

    def message_range(self, message: Message, offset: int, length: int) -> bytes:
        if length <= 0 or offset >= message.size:
            return b""
        with self.open_message(message) as f:
            f.seek(offset)
            return f.read(length)

    def message_parts(self, message: Message) -> partlib.Part:
        if message.parts:
            return partlib.decode(message.parts)
        return partlib.parse(self.message_bytes(message))

    def summaries(self, msg_ids: list[int]) -> list[Summary]:
        return summaries.by_ids(self.db, msg_ids)

    def summary_page(self, selected: MessageFilter, limit: int, *, offset: int = 0,
                     after: tuple[float, int] | None = None) -> SummaryPage:
        return listing.page(self.db, selected, limit, offset, after)

    def find_delivered(self, message_id: str, rcpt_to: str, mail_from: str, since: float) -> bool:
        return messages.find_delivered(self.db, message_id, rcpt_to, mail_from, since)

    async def deliver(self, data: bytes, mailbox: str = "Inbox", *, flags: list[str] | None = None,
                      received: float | None = None, meta: DeliveryMeta | None = None,
                      headers: EmailMessage | None = None) -> Message:
        mask, keywords = flaglib.parse(flags or [])
        # Writing the file and parsing the message take as long as the message is large: in a
        # worker thread, in one hop, so the event loop stays free.
        relpath, dirs, values = await asyncio.get_running_loop().run_in_executor(
            None, lambda: self._prepare(data, mask, keywords, received, meta, headers))

        def insert(conn: sqlite3.Connection) -> tuple[sqlite3.Row, list[Change]]:
            row, new_keywords = messages.insert_tx(conn, mailbox, **values)
            self.bodies.store_tx(conn, row["id"], data)
            changes = [Change("keywords", row["mailbox_id"])] if new_keywords else []
            return row, changes + [Change("added", row["mailbox_id"], [row["uid"]], [row["id"]], row["modseq"])]

        try:
            row, changes = await self._write(insert, sync_dirs=dirs)
        except BaseException:
            self.bodies.discard(relpath)
            raise
        self._broadcast(changes)
        return rows.message(row)

    async def deliver_all(self, items: list[tuple[bytes, list[str], float | None]], mailbox: str) -> list[Message]:
        parsed_flags = [flaglib.parse(flags) for _, flags, _ in items]  # a bad flag fails before any file is written

        def prepare_all() -> list[tuple[str, list[str], dict]]:
            done: list[tuple[str, list[str], dict]] = []
            try:
                for (data, _, received), (mask, keywords) in zip(items, parsed_flags):
                    done.append(self._prepare(data, mask, keywords, received, None, None))
            except BaseException:
                for relpath, _, _ in done:
                    self.bodies.discard(relpath)
                raise
            return done

        prepared = await asyncio.get_running_loop().run_in_executor(None, prepare_all)

        def insert_all(conn: sqlite3.Connection) -> tuple[list[sqlite3.Row], list[Change]]:
            found, new_keywords = [], False
            for (data, _, _), (_, _, values) in zip(items, prepared):
                row, added_keywords = messages.insert_tx(conn, mailbox, **values)
                self.bodies.store_tx(conn, row["id"], data)
                found.append(row)
                new_keywords = new_keywords or added_keywords
            # One change per message, as for single deliveries: each has its own modseq.
            changes = [Change("keywords", found[0]["mailbox_id"])] if new_keywords else []
            return found, changes + [Change("added", r["mailbox_id"], [r["uid"]], [r["id"]], r["modseq"])
                                     for r in found]

        try:
            dirs = sorted({d for _, made, _ in prepared for d in made})
            found, changes = await self._write(insert_all, sync_dirs=dirs)
        except BaseException:
            for relpath, _, _ in prepared:
                self.bodies.discard(relpath)
            raise
        self._broadcast(changes)
        return [rows.message(row) for row in found]

    def _prepare(self, data: bytes, mask: int, keywords: list[str], received: float | None,
                 meta: DeliveryMeta | None, headers: EmailMessage | None) -> tuple[str, list[str], dict]:
        """Write a new message's file (when its bytes are kept in files) and compute its row's values;
        (path, directories to fsync before the commit, values)."""
        relpath, dirs = self.bodies.prepare(data)
        try:
            parsed = headers if headers is not None else msgparse.parse_headers(data)
            root = partlib.parse(data)
            summary = msgparse.summary(data, parsed)
            values = dict(path=relpath, size=len(data), mask=mask, keywords=keywords,
                          received=time.time() if received is None else received,
                          summary=summary, sent_day=schema.sent_day(parsed),
                          meta=meta or DeliveryMeta(), parts=partlib.encode(root),
                          indexed=summaries.values(data, root, summary["subject"]))
        except BaseException:
            self.bodies.discard(relpath)
            raise
        return relpath, dirs, values

    async def delete(self, msg_id: int) -> None:
        def delete(conn: sqlite3.Connection) -> tuple[sqlite3.Row, list[Change]]:
            row, modseq = messages.delete_tx(conn, msg_id)
            return row, [Change("removed", row["mailbox_id"], [row["uid"]], [row["id"]], modseq)]

        row, changes = await self._write(delete)
        self.bodies.discard(row["path"])
        self._broadcast(changes)

    async def purge(self) -> int:
        def purge(conn: sqlite3.Connection) -> tuple[list[sqlite3.Row], list[Change]]:
            removed = messages.delete_all_tx(conn)
            if not removed:
                return removed, []
            modseq = messages.next_modseq_tx(conn)
            by_mailbox: dict[int, list[sqlite3.Row]] = {}
            for row in removed:
                by_mailbox.setdefault(row["mailbox_id"], []).append(row)
            return removed, [Change("removed", mailbox_id, [r["uid"] for r in rows], [r["id"] for r in rows], modseq)
                             for mailbox_id, rows in by_mailbox.items()]

        removed, changes = await self._write(purge)
        # A whole account's files: in a thread, off the loop.
        await asyncio.get_running_loop().run_in_executor(
            None, lambda: [self.bodies.discard(row["path"]) for row in removed])
        self._broadcast(changes)
        return len(removed)

    async def change_flags(self, msg_ids: list[int], mode: str, flags: list[str], *,
                           mailbox_id: int | None = None, origin: Any = None,
                           unchanged_since: int | None = None) -> list[Message]:
        if mode not in flagchange.MODES:
            raise ValueError(f"unknown flag change mode {mode!r}")
        mask, keywords = flaglib.parse(flags)
        if not msg_ids:
            raise MessageNotFound(msg_ids)

        def update(conn: sqlite3.Connection) -> tuple[list[sqlite3.Row], list[Change]]:
            targets = messages.by_ids_tx(conn, msg_ids, mailbox_id, "id, mailbox_id, uid, modseq, flags, keywords")
            if unchanged_since is not None:
                # RFC 7162 3.1.3: decided in the transaction that changes them, so no change comes between.
                targets = [r for r in targets if r["modseq"] <= unchanged_since]
            return flagchange.change_tx(conn, targets, mode, mask, keywords, origin)

        changed, changes = await self._write(update)
        self._broadcast(changes)
        return [rows.message(r) for r in changed]

    async def move(self, msg_ids: list[int], dest: str, *, mailbox_id: int | None = None) -> Copied:
        if not msg_ids:
            raise MessageNotFound(msg_ids)

        def update(conn: sqlite3.Connection) -> tuple[Copied, list[Change]]:
            moving = messages.by_ids_tx(conn, msg_ids, mailbox_id, "id, mailbox_id, uid, keywords")
            box = mailboxes.find_tx(conn, dest)
            if box is None:
                raise MailboxNotFound(dest)
            if box["id"] == mailbox_id:
                raise MailboxError("cannot move to the same mailbox")
            pairs, changes = copymove.move_tx(conn, [r for r in moving if r["mailbox_id"] != box["id"]], box)
            return Copied(box["uidvalidity"], pairs), changes

        copied, changes = await self._write(update)
        self._broadcast(changes)
        return copied

    async def copy(self, msg_ids: list[int], dest: str, *, mailbox_id: int) -> Copied:
        # The source rows are read and the files linked inside the write transaction: a message removed by
        # another writer is either gone when this one runs or its file is still there (files are removed only
        # after their row's removal is committed).
        if not msg_ids:
            raise MessageNotFound(msg_ids)
        created: list[str] = []  # new file names, removed again if the transaction fails

        def insert(conn: sqlite3.Connection) -> tuple[Copied, list[Change]]:
            copying = messages.by_ids_tx(conn, msg_ids, mailbox_id, "id, uid, path, keywords")
            box = mailboxes.find_tx(conn, dest)
            if box is None:
                raise MailboxNotFound(dest)
            pairs, changes = copymove.copy_tx(conn, self.bodies, copying, box, created)
            return Copied(box["uidvalidity"], pairs), changes

        try:
            copied, changes = await self._write(insert)
        except BaseException:
            for relpath in created:
                self.bodies.discard(relpath)
            raise
        self._broadcast(changes)
        return copied

    async def expunge(self, mailbox_id: int, uids: list[int] | None = None) -> list[int]:
        def expunge(conn: sqlite3.Connection) -> tuple[list[sqlite3.Row], list[Change]]:
            removed, modseq = messages.expunge_tx(conn, mailbox_id, uids)
            return removed, [Change("removed", mailbox_id, [r["uid"] for r in removed], [r["id"] for r in removed],
                                    modseq)] if removed else []

        removed, changes = await self._write(expunge)
        for row in removed:
            self.bodies.discard(row["path"])
        self._broadcast(changes)
        return [r["uid"] for r in removed]

    def search(self, mailbox_id: int, criteria: Criteria) -> list[int]:
        return search.run(self.db, self.bodies.read, mailbox_id, criteria)

    # Modification sequences (RFC 7162).

    def highest_modseq(self, mailbox_id: int) -> int:
        return modseqs.highest(self.db, mailbox_id)

    def changed_since(self, mailbox_id: int, modseq: int) -> list[Message]:
        return modseqs.changed(self.db, mailbox_id, modseq)

    def expunged_since(self, mailbox_id: int, modseq: int) -> list[int] | None:
        return modseqs.expunged(self.db, mailbox_id, modseq)

    # \Recent.

    def recent_claimed(self, mailbox_id: int) -> int:
        return self._recent.claimed(mailbox_id)

    def claim_recent(self, mailbox_id: int, upto: int) -> int:
        return self._recent.claim(mailbox_id, upto)

    # The change log.

    def changes_since(self, position: ChangePosition | None, limit: int
                      ) -> tuple[list[LoggedChange], ChangePosition, bool]:
        return changelog.since(self.db, position, limit)

    async def prune_changes(self, before: float) -> int:
        return await self.db.write(lambda conn: changelog.prune_tx(conn, before))

    def check(self) -> list[str]:
        return self.bodies.problems(self.db)


def _identity(path: str) -> tuple[int, int] | None:
    """Which file is at path: its device and inode; None when there is none."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


def _created(boxes: list[sqlite3.Row], modseq: int) -> list[Change]:
    """The changes announcing newly created mailboxes."""
    return [Change("mailbox_created", box["id"], modseq=modseq, mailbox_name=box["name"]) for box in boxes]

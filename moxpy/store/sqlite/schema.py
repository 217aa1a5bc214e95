"""The tables of an account's index (index.db), and the columns added
since the first version, filled in when an older index is opened.

mailboxes: one row per mailbox, with its UIDNEXT and UIDVALIDITY (RFC 3501
2.3.1.1), the keywords ever used in it and the highest UID claimed as
\\Recent. messages: one row per message, with its file's name under msg/,
its flags (system flags as bits, see store.flags; keywords as a JSON
list), header fields for searching and the SMTP session's findings.
message_parts: the MIME tree of each message (message.part), so FETCH
needs no parse. message_text: the words of each message for full-text
search (SQLite FTS5; see summaries.py). changes: the change log
(changelog.py), one row per event about a message or mailbox, by (modseq,
seq). rules: the account's delivery rules (rules.py). meta: counters
(modseq, the highest UIDVALIDITY given, the rules' version) and where the
change log was last pruned.

They are made and upgraded by the numbered migrations at the end
(../migrations.py), on SQLite and on PostgreSQL alike. The first versions
made some of these with sqlite-utils; the statements
here make the same tables and give indexes the names it gave them
(idx_TABLE_COLUMNS), so an index made then is not made a second time.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import sqlite3
import time
from email.message import Message as EmailMessage

import msgspec

from ...message import parse as msgparse
from ...message import part as partlib
from ..accounts import DEFAULT_MAILBOXES
from .. import dialect
from ..migrations import Migration, Migrations
from . import rules, summaries

log = logging.getLogger("moxpy.store")


def create(conn: sqlite3.Connection, msg_dir: str) -> None:
    """Create the tables that are missing and add the columns that are; add the default mailboxes."""
    conn.execute("""
        create table if not exists mailboxes (
            id integer primary key,
            name text not null,
            special_use text default '',
            uidvalidity integer not null,
            uidnext integer not null,
            subscribed integer default 1
        )""")
    conn.execute("create unique index if not exists idx_mailboxes_name on mailboxes (name)")
    # AUTOINCREMENT: message ids (the webapi's MsgID) are never reused.
    conn.execute("""
        create table if not exists messages (
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
    conn.execute("create unique index if not exists idx_messages_mailbox_id_uid on messages (mailbox_id, uid)")
    conn.execute("create table if not exists meta (key text primary key, value integer)")
    conn.execute("""
        create table if not exists message_parts (
            message_id integer primary key references messages(id) on delete cascade,
            data blob not null
        )""")
    conn.execute("insert into meta (key, value) values ('modseq', 1) on conflict do nothing")
    _changes(conn)
    rules.schema(conn)
    _message_text(conn)
    _add_columns(conn, msg_dir)
    # Listings, newest first, continue from a (received, id) position; searches of all mailboxes too.
    conn.execute("create index if not exists idx_messages_mailbox_id_received_id on messages (mailbox_id, received, id)")
    conn.execute("create index if not exists idx_messages_received_id on messages (received, id)")
    conn.execute("create index if not exists idx_messages_message_id on messages (message_id)")
    # RFC 7162 CHANGEDSINCE and HIGHESTMODSEQ: the messages of a mailbox changed since a modseq.
    conn.execute("create index if not exists idx_messages_mailbox_id_modseq on messages (mailbox_id, modseq)")
    now = int(time.time())
    for i, (name, special_use) in enumerate(DEFAULT_MAILBOXES):
        conn.execute(
            "insert into mailboxes (name, special_use, uidvalidity, uidnext, subscribed) values (?, ?, ?, 1, 1) "
            "on conflict do nothing",
            (name, special_use, now + i),
        )


def _message_text(conn: sqlite3.Connection) -> None:
    """The full-text table: SQLite's FTS5; on PostgreSQL a plain table of normalized words (pg/fulltext.py).
    Whatever removes a message (expunge, delete, a mailbox's deletion) removes its words in the same
    transaction: a trigger here, a cascading reference there."""
    if dialect.of(conn) == dialect.POSTGRESQL:
        conn.execute("""
            create table if not exists message_text (
                rowid integer not null primary key references messages(id) on delete cascade,
                subject text not null, from_addresses text not null, to_addresses text not null, body text not null
            )""")
        return
    # unicode61 folds case and, with remove_diacritics 2, accents: "Élan" is found by "elan".
    conn.execute("""
        create virtual table if not exists message_text using fts5(
            subject, from_addresses, to_addresses, body, tokenize = 'unicode61 remove_diacritics 2'
        )""")
    conn.execute("""
        create trigger if not exists messages_text_delete after delete on messages begin
            delete from message_text where rowid = old.id;
        end""")


def _changes(conn: sqlite3.Connection) -> None:
    """The change log (see changelog.py); in an index made before it, it starts at the current modseq."""
    conn.execute("""
        create table if not exists changes (
            modseq integer not null,
            seq integer not null,
            at real not null,
            event text not null,
            mailbox_id integer not null,
            mailbox_name text not null,
            msg_id integer not null default 0,
            uid integer not null default 0,
            old_name text not null default '',
            added text not null default '[]',
            removed text not null default '[]',
            primary key (modseq, seq)
        ) without rowid""")
    conn.execute("create index if not exists changes_at on changes (at)")
    # RFC 7162 3.2.10 (QRESYNC VANISHED): the UIDs expunged from a mailbox since a modseq.
    conn.execute("create index if not exists changes_expunged on changes (mailbox_id, modseq) "
                 "where event = 'messageDeleted'")
    # Positions before this one are expired: the entries after them are (or may be) gone.
    conn.execute("insert into meta (key, value) select 'changes_pruned_modseq', value from meta "
                 "where key = 'modseq' on conflict do nothing")
    conn.execute("insert into meta (key, value) values ('changes_pruned_seq', 0) on conflict do nothing")


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return dialect.table_columns(conn, table)


def _add_columns(conn: sqlite3.Connection, msg_dir: str) -> None:
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
    if "text_size" not in _columns(conn, "messages"):
        # Summaries and full-text words (summaries.py), from each message's file for an index made before.
        for statement in _SUMMARY_COLUMNS:
            conn.execute(f"alter table messages add column {statement}")
        _fill_summaries(conn, msg_dir)


_SUMMARY_COLUMNS = (
    "addr_from text not null default '[]'",  # [[display name, address], ...] of From, as JSON
    "addr_to text not null default '[]'",
    "addr_cc text not null default '[]'",
    "in_reply_to text not null default ''",
    "preview text not null default ''",
    "has_attachments integer not null default 0",
    "text_size integer not null default 0",
    "html_size integer not null default 0",
)


def _fill_summaries(conn: sqlite3.Connection, msg_dir: str) -> None:
    found = conn.execute("select m.id, m.path, m.subject, p.data from messages m "
                         "left join message_parts p on p.message_id = m.id order by m.id").fetchall()
    if not found:
        return
    log.info("filling message summaries and search words of %d messages in %s", len(found), msg_dir)
    conn.execute("delete from message_text")
    for row in found:
        try:
            with open(os.path.join(msg_dir, row["path"]), "rb") as f:
                data = f.read()
        except OSError:
            data = b""  # the check command reports a missing file; its row keeps empty summaries
        try:
            root = partlib.decode(row["data"]) if row["data"] else partlib.parse(data)
        except (ValueError, msgspec.DecodeError):
            root = partlib.parse(data)
        summaries.store_tx(conn, row["id"], summaries.values(data, root, row["subject"]))


def sent_day(headers: EmailMessage) -> int | None:
    """The sent_day column of a message with this header section."""
    sent = msgparse.date(headers)
    return sent.date().toordinal() if sent is not None else None


def _stored_sent_day(msg_dir: str, row: sqlite3.Row) -> int | None:
    try:
        with open(os.path.join(msg_dir, row["path"]), "rb") as f:
            head = f.read(1024 * 1024)  # the header section, in all but absurd messages
        day = sent_day(msgparse.parse_headers(head))
    except (OSError, ValueError):
        day = None
    if day is None:
        day = datetime.datetime.fromtimestamp(row["date"], datetime.timezone.utc).date().toordinal()
    return day


def _first(conn: sqlite3.Connection, msg_dir: str) -> None:
    """The index as versions began: what create makes, on PostgreSQL with the table of message contents."""
    create(conn, msg_dir)
    if dialect.of(conn) == dialect.POSTGRESQL:
        from ..pg import contents  # loaded with the PostgreSQL backend only

        contents.create(conn)


# The account index's migrations, each applied once (see ../migrations.py); never change one, add the next.
MIGRATIONS = Migrations("account index", [
    Migration(1, "tables of the first versioned index", _first),
])

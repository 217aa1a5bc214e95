"""Copying and moving messages to another mailbox (IMAP COPY, RFC 6851
MOVE, the webapi's MessageMove): each gets the destination's next UID
(RFC 3501 2.3.1.1), and the destination notes the keywords it brings.

A moved message keeps its id; a copy is a new message with its own id
whose file is a second name (hard link) for the same bytes, or on
PostgreSQL a copy of the bytes' rows (see bodies.py).
"""

from __future__ import annotations

import json
import sqlite3

from ..accounts import Change
from ..db import fsync_dir
from . import mailboxes, summaries
from .messages import next_modseq_tx

# Every column of messages but id, mailbox_id, uid, modseq and path, which a copy gets anew.
_COPIED = ("received, size, flags, keywords, message_id, subject, msg_from, date, sent_day, mail_from, rcpt_to, "
           "remote_ip, mail_from_validated, msg_from_validated, dkim_domains, dsn, " + ", ".join(summaries.COLUMNS))


def move_tx(conn: sqlite3.Connection, moving: list[sqlite3.Row], dest: sqlite3.Row
            ) -> tuple[list[tuple[int, int]], list[Change]]:
    """Move messages (rows with id, mailbox_id, uid, keywords) to dest; returns (old UID, new UID) pairs
    and the changes to announce."""
    if not moving:
        return [], []
    modseq = next_modseq_tx(conn)
    uid = conn.execute("select uidnext from mailboxes where id = ?", (dest["id"],)).fetchone()[0]
    pairs = []
    removed: dict[int, Change] = {}
    for row in moving:
        conn.execute("update messages set mailbox_id = ?, uid = ?, modseq = ? where id = ?",
                     (dest["id"], uid, modseq, row["id"]))
        pairs.append((row["uid"], uid))
        change = removed.setdefault(row["mailbox_id"], Change("removed", row["mailbox_id"], modseq=modseq))
        change.uids.append(row["uid"])
        change.msg_ids.append(row["id"])
        uid += 1
    conn.execute("update mailboxes set uidnext = ? where id = ?", (uid, dest["id"]))
    changes = list(removed.values())
    if mailboxes.add_keywords_tx(conn, dest["id"], {k for r in moving for k in json.loads(r["keywords"])}):
        changes.append(Change("keywords", dest["id"]))
    changes.append(Change("added", dest["id"], [new for _, new in pairs], [r["id"] for r in moving], modseq))
    return pairs, changes


def copy_tx(conn: sqlite3.Connection, bodies, copying: list[sqlite3.Row], dest: sqlite3.Row,
            created: list[str]) -> tuple[list[tuple[int, int]], list[Change]]:
    """Copy messages (rows with id, uid, path, keywords) to dest; returns (source UID, new UID) pairs and
    the changes to announce. bodies: where the account keeps message bytes (bodies.py). The names of new
    files are appended to created as they are made, so the caller can remove them when the transaction fails."""
    if not copying:
        return [], []
    modseq = next_modseq_tx(conn)
    pairs, ids, keywords, buckets = [], [], set(), set()
    # Read after taking the modseq, which orders the account's writers: another node may have delivered.
    uid = conn.execute("select uidnext from mailboxes where id = ?", (dest["id"],)).fetchone()[0]
    for row in copying:
        relpath, dirs = bodies.link(row["path"])
        created.append(relpath)
        buckets.update(dirs)
        new_id = conn.execute(
            f"""insert into messages (mailbox_id, uid, modseq, path, {_COPIED})
                select ?, ?, ?, ?, {_COPIED} from messages where id = ? returning id""",
            (dest["id"], uid, modseq, relpath, row["id"])).fetchone()[0]
        bodies.copied_tx(conn, row["id"], new_id)
        conn.execute("insert into message_parts (message_id, data) "
                     "select ?, data from message_parts where message_id = ?", (new_id, row["id"]))
        summaries.copy_text_tx(conn, row["id"], new_id)
        keywords.update(json.loads(row["keywords"]))
        pairs.append((row["uid"], uid))
        ids.append(new_id)
        uid += 1
    conn.execute("update mailboxes set uidnext = ? where id = ?", (uid, dest["id"]))
    changes = []
    if mailboxes.add_keywords_tx(conn, dest["id"], keywords):
        changes.append(Change("keywords", dest["id"]))
    changes.append(Change("added", dest["id"], [new for _, new in pairs], ids, modseq))
    # The new names must be durable before the rows pointing to them are committed.
    for bucket in buckets:
        fsync_dir(bucket)
    return pairs, changes

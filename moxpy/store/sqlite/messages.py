"""Messages in the index: lookups, and the transactions that add and
remove them.

Functions taking db read over the read connection (the last committed
state); those ending in _tx run inside a write transaction (conn).
"""

from __future__ import annotations

import json
import sqlite3

from .. import dialect
from .. import flags as flaglib
from ..accounts import DeliveryMeta, MailboxNotFound, Message, MessageNotFound
from ..db import Database
from . import mailboxes, rows, summaries


def get(db: Database, msg_id: int) -> Message | None:
    row = db.query_one(f"select {rows.MESSAGE_COLUMNS} from messages where id = ?", (msg_id,))
    return rows.message(row) if row else None


def uids(db: Database, mailbox_id: int) -> list[int]:
    return [r[0] for r in db.query("select uid from messages where mailbox_id = ? order by uid", (mailbox_id,))]


def in_mailbox(db: Database, mailbox_id: int, uids: list[int], parts: bool) -> list[Message]:
    if not uids:
        return []
    columns = rows.message_columns("m") + (", p.data" if parts else "")
    join = "left join message_parts p on p.message_id = m.id" if parts else ""
    # One range scan of the (mailbox_id, uid) index; UIDs between the wanted ones are dropped here.
    found = db.query(
        f"select {columns} from messages m {join} where m.mailbox_id = ? and m.uid between ? and ? order by m.uid",
        (mailbox_id, uids[0], uids[-1]))
    if len(found) != len(uids):
        wanted = set(uids)
        found = [r for r in found if r["uid"] in wanted]
    return [rows.message(r) for r in found]


def find_delivered(db: Database, message_id: str, rcpt_to: str, mail_from: str, since: float) -> bool:
    return db.query_one(
        "select 1 from messages where message_id = ? and rcpt_to = ? and mail_from = ? and received >= ? limit 1",
        (message_id, rcpt_to, mail_from, since)) is not None


def next_modseq_tx(conn: sqlite3.Connection) -> int:
    return conn.execute("update meta set value = value + 1 where key = 'modseq' returning value").fetchone()[0]


def in_mailbox_tx(conn: sqlite3.Connection, mailbox_id: int, uids: list[int] | None, columns: str
                  ) -> list[sqlite3.Row]:
    """Rows of a mailbox's messages (all when uids is None), in UID order."""
    if uids is None:
        return conn.execute(f"select {columns} from messages where mailbox_id = ? order by uid", (mailbox_id,)).fetchall()
    if not uids:
        return []
    wanted = set(uids)
    found = conn.execute(f"select {columns} from messages where mailbox_id = ? and uid between ? and ? order by uid",
                         (mailbox_id, min(uids), max(uids))).fetchall()
    return [r for r in found if r["uid"] in wanted]


def by_ids_tx(conn: sqlite3.Connection, msg_ids: list[int], mailbox_id: int | None, columns: str
              ) -> list[sqlite3.Row]:
    """Rows of the messages with these ids (only those in mailbox_id when given), by mailbox and UID;
    MessageNotFound when there are none."""
    where, wanted = dialect.in_list(conn, "id", msg_ids)
    params: list = [wanted]
    if mailbox_id is not None:
        where += " and mailbox_id = ?"
        params.append(mailbox_id)
    found = conn.execute(f"select {columns} from messages where {where} order by mailbox_id, uid", params).fetchall()
    if not found:
        raise MessageNotFound(msg_ids)
    return found


_INSERT = f"""insert into messages (mailbox_id, uid, modseq, received, path, size, flags, keywords,
                  message_id, subject, msg_from, date, sent_day, mail_from, rcpt_to, remote_ip,
                  mail_from_validated, msg_from_validated, dkim_domains, dsn, {", ".join(summaries.COLUMNS)})
              values ({", ".join(["?"] * (20 + len(summaries.COLUMNS)))}) returning {rows.MESSAGE_COLUMNS}"""


def insert_tx(conn: sqlite3.Connection, mailbox: str, *, path: str, size: int, mask: int, keywords: list[str],
              received: float, summary: dict, sent_day: int | None, meta: DeliveryMeta, parts: bytes,
              indexed: dict) -> tuple[sqlite3.Row, bool]:
    """Add a message with the mailbox's next UID; returns its row and whether the mailbox has new keywords.

    indexed: its summary columns and full-text words (summaries.values)."""
    box = mailboxes.find_tx(conn, mailbox)
    if box is None:
        raise MailboxNotFound(mailbox)
    # The UID as the update gives it, not as read before: another node's delivery to the mailbox may have
    # committed in between, and the update waits for it and sees its result.
    (uid,) = conn.execute("update mailboxes set uidnext = uidnext + 1 where id = ? returning uidnext - 1",
                          (box["id"],)).fetchone()
    row = conn.execute(
        _INSERT,
        (box["id"], uid, next_modseq_tx(conn), received, path, size, mask, json.dumps(keywords),
         *(summaries.text_column(summary[k]) for k in ("message_id", "subject", "msg_from")), summary["date"],
         sent_day, meta.mail_from,
         meta.rcpt_to, meta.remote_ip, int(meta.mail_from_validated), int(meta.msg_from_validated),
         json.dumps(meta.dkim_domains), int(meta.dsn), *(_column(indexed[c]) for c in summaries.COLUMNS)),
    ).fetchone()
    conn.execute("insert into message_parts (message_id, data) values (?, ?)", (row["id"], parts))
    summaries.insert_text_tx(conn, row["id"], indexed)
    return row, mailboxes.add_keywords_tx(conn, box["id"], keywords)


def _column(value):
    """A value as an integer column takes it: PostgreSQL does not store a boolean in one."""
    return int(value) if isinstance(value, bool) else value


def delete_tx(conn: sqlite3.Connection, msg_id: int) -> tuple[sqlite3.Row, int]:
    """Remove a message's row; returns the row and the modseq of the removal."""
    row = conn.execute("delete from messages where id = ? returning *", (msg_id,)).fetchone()
    if row is None:
        raise MessageNotFound(msg_id)
    return row, next_modseq_tx(conn)


def delete_all_tx(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """Remove the rows of every message of every mailbox; returns (id, mailbox_id, uid, path) of each, by
    mailbox, then UID."""
    removed = conn.execute("delete from messages returning id, mailbox_id, uid, path").fetchall()
    return sorted(removed, key=lambda row: (row["mailbox_id"], row["uid"]))


def expunge_tx(conn: sqlite3.Connection, mailbox_id: int, uids: list[int] | None) -> tuple[list[sqlite3.Row], int]:
    """Remove the rows of the messages flagged \\Deleted (among uids when given); returns (id, uid, path) of each,
    and the modseq of the removal (0 when nothing was removed)."""
    removed = []
    for row in in_mailbox_tx(conn, mailbox_id, uids, "id, uid, flags"):
        if row["flags"] & flaglib.DELETED:
            removed.append(conn.execute("delete from messages where id = ? returning id, uid, path",
                                        (row["id"],)).fetchone())
    return removed, next_modseq_tx(conn) if removed else 0

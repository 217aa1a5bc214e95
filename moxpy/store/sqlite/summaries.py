"""Message summaries in the index: the columns listings and searches read
(addresses, In-Reply-To, preview, sizes of the readable parts, attachment
presence) and the words of the full-text table (message_text, SQLite
FTS5), both computed once when a message is stored, from the parse the
delivery does anyway.

message_text has one row per message, its rowid the message's id, so a
move within the account leaves it alone; a copy copies it (copymove), and
a trigger (schema.py) removes it with its message, in the same
transaction whichever path removes the message.
"""

from __future__ import annotations

import json
import sqlite3
from ...message import part as partlib
from ...message import readable
from .. import dialect
from ..accounts import Summary
from ..db import Database
from . import rows

# Body text beyond this many characters is not searchable: indexing it holds up the account's writer (every
# other delivery waits for the transaction), about 40 ms for this much, and an automated 10 MB message
# would hold it up for more than a second.
BODY_INDEX_LIMIT = 256 * 1024

# Columns of messages that only summaries read, as values() returns them.
COLUMNS = ("addr_from", "addr_to", "addr_cc", "in_reply_to", "preview", "has_attachments", "text_size", "html_size")

# Columns of message_text, as values() returns them (prefixed fts_).
TEXT_COLUMNS = ("subject", "from_addresses", "to_addresses", "body")


def values(data: bytes, root: partlib.Part, subject: str) -> dict:
    """The summary columns and full-text words of a message with this part tree (its envelope has the
    addresses, parsed already) and decoded subject."""
    text, html = readable.texts(data, root)
    envelope = root.envelope or partlib.Envelope()
    froms = readable.addresses(envelope.from_)
    to = readable.addresses(envelope.to)
    cc = readable.addresses(envelope.cc)
    bcc = readable.addresses(envelope.bcc)  # kept in Sent copies
    body = text if text.strip() else readable.html_text(html[:BODY_INDEX_LIMIT * 2])
    return {
        "addr_from": _json_addresses(froms),
        "addr_to": _json_addresses(to),
        "addr_cc": _json_addresses(cc),
        "in_reply_to": text_column(envelope.in_reply_to),
        "preview": text_column(readable.preview(text, html)),
        "has_attachments": readable.has_attachments(root),
        "text_size": readable.utf8_size(text),
        "html_size": readable.utf8_size(html),
        "fts_subject": text_column(subject),
        "fts_from_addresses": text_column(_words(froms)),
        "fts_to_addresses": text_column(_words(to + cc + bcc)),
        "fts_body": text_column(body[:BODY_INDEX_LIMIT]),
    }


def text_column(value: str) -> str:
    """A text of a message (binary content may have NUL characters) as a text column keeps it: a NUL as a
    space, as PostgreSQL's text cannot hold one; the message itself keeps its bytes."""
    return value.replace("\x00", " ") if value and "\x00" in value else value


def _json_addresses(addresses: list[tuple[str, str]]) -> str:
    return json.dumps([[name, address] for name, address in addresses], ensure_ascii=False)


def _words(addresses: list[tuple[str, str]]) -> str:
    return "\n".join(f"{name} {address}".strip() for name, address in addresses)


def store_tx(conn: sqlite3.Connection, msg_id: int, computed: dict) -> None:
    """Write the summary columns and the full-text row of a message."""
    conn.execute(f"update messages set {', '.join(c + ' = ?' for c in COLUMNS)} where id = ?",
                 [computed[c] for c in COLUMNS] + [msg_id])
    insert_text_tx(conn, msg_id, computed)


def insert_text_tx(conn: sqlite3.Connection, msg_id: int, computed: dict) -> None:
    texts = [computed["fts_" + c] for c in TEXT_COLUMNS]
    if dialect.of(conn) == dialect.POSTGRESQL:
        from ..pg import fulltext as pgfulltext  # its words as that backend searches them

        texts = [pgfulltext.normalize(t) for t in texts]
    conn.execute(f"insert into message_text (rowid, {', '.join(TEXT_COLUMNS)}) values (?, ?, ?, ?, ?)",
                 [msg_id] + texts)


def copy_text_tx(conn: sqlite3.Connection, source_id: int, new_id: int) -> None:
    columns = ", ".join(TEXT_COLUMNS)
    conn.execute(f"insert into message_text (rowid, {columns}) select ?, {columns} from message_text where rowid = ?",
                 (new_id, source_id))


# The columns summary() reads, from messages m joined with mailboxes b.
SELECT = ("m.id, m.uid, m.mailbox_id, b.name, m.received, m.date, m.size, m.flags, m.keywords, m.subject, "
          "m.addr_from, m.addr_to, m.addr_cc, m.message_id, m.in_reply_to, m.preview, m.has_attachments, "
          "m.text_size, m.html_size")
FROM = "messages m join mailboxes b on b.id = m.mailbox_id"


def summary(row: sqlite3.Row) -> Summary:
    (msg_id, uid, mailbox_id, mailbox_name, received, date, size, mask, keywords, subject, addr_from, addr_to,
     addr_cc, message_id, in_reply_to, preview, has_attachments, text_size, html_size) = row
    return Summary(msg_id, uid, mailbox_id, mailbox_name, received, date, size, rows.flag_names(mask, keywords),
                   subject, _addresses(addr_from), _addresses(addr_to), _addresses(addr_cc), message_id, in_reply_to,
                   preview, bool(has_attachments), text_size, html_size)


def _addresses(text: str) -> list[tuple[str, str]]:
    return [] if text == "[]" else [(name, address) for name, address in json.loads(text)]


def by_ids(db: Database, msg_ids: list[int]) -> list[Summary]:
    if not msg_ids:
        return []
    condition, wanted = dialect.in_list(db, "m.id", msg_ids)
    found = db.query(f"select {SELECT} from {FROM} where {condition}", (wanted,))
    by_id = {r[0]: r for r in found}
    return [summary(by_id[i]) for i in msg_ids if i in by_id]

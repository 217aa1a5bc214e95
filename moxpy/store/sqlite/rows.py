"""Index rows as the store's records: the one place that knows which
column holds which field."""

from __future__ import annotations

import json
import sqlite3

from .. import flags as flaglib
from ..accounts import DeliveryMeta, Mailbox, Message

# (flags bits, keywords JSON) -> names; a mailbox's messages share few combinations.
_names: dict[tuple[int, str], list[str]] = {}


def flag_names(mask: int, keywords: str) -> list[str]:
    key = (mask, keywords)
    names = _names.get(key)
    if names is None:
        names = flaglib.names(mask, json.loads(keywords))
        if len(_names) < 4096:
            _names[key] = names
    return list(names)


def _list(text: str) -> list[str]:
    return [] if text == "[]" else json.loads(text)


# The columns of messages that make a Message, in the order message() reads them.
MESSAGE_FIELDS = ("id", "mailbox_id", "uid", "modseq", "received", "size", "flags", "keywords", "message_id", "subject",
                  "msg_from", "date", "mail_from", "rcpt_to", "remote_ip", "mail_from_validated", "msg_from_validated",
                  "dkim_domains", "dsn", "path")
MESSAGE_COLUMNS = ", ".join(MESSAGE_FIELDS)


def message_columns(table: str) -> str:
    """MESSAGE_COLUMNS of a table alias, for joins."""
    return ", ".join(f"{table}.{c}" for c in MESSAGE_FIELDS)


def message(row: sqlite3.Row) -> Message:
    """A row of MESSAGE_COLUMNS, optionally followed by message_parts.data (the MIME tree)."""
    # By position: a FETCH of a large mailbox makes thousands of these.
    (msg_id, mailbox_id, uid, modseq, received, size, mask, keywords, message_id, subject, msg_from, date,
     mail_from, rcpt_to, remote_ip, mail_from_validated, msg_from_validated, dkim_domains, dsn, path, *more) = row
    parts = more[0] if more else None  # message.part's encoding, decoded when needed
    meta = DeliveryMeta(mail_from, rcpt_to, remote_ip, bool(mail_from_validated), bool(msg_from_validated),
                        _list(dkim_domains), bool(dsn))
    return Message(msg_id, mailbox_id, uid, modseq, received, size, flag_names(mask, keywords), message_id, subject,
                   msg_from, date, meta, parts, path)


def mailbox(row: sqlite3.Row) -> Mailbox:
    return Mailbox(
        id=row["id"],
        name=row["name"],
        special_use=row["special_use"],
        uidvalidity=row["uidvalidity"],
        uidnext=row["uidnext"],
        subscribed=bool(row["subscribed"]),
        keywords=_list(row["keywords"]),
    )

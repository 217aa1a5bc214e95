"""Index rows as the store's records: the one place that knows which
column holds which field."""

from __future__ import annotations

import json
import sqlite3

from ...message import part as partlib
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


def message(row: sqlite3.Row, with_parts: bool = False) -> Message:
    """A row of messages (select *); with_parts: it has column parts (message_parts.data) too."""
    parts = row["parts"] if with_parts else None
    return Message(
        id=row["id"],
        mailbox_id=row["mailbox_id"],
        uid=row["uid"],
        modseq=row["modseq"],
        received=row["received"],
        size=row["size"],
        flags=flag_names(row["flags"], row["keywords"]),
        message_id=row["message_id"],
        subject=row["subject"],
        msg_from=row["msg_from"],
        date=row["date"],
        meta=DeliveryMeta(
            mail_from=row["mail_from"],
            rcpt_to=row["rcpt_to"],
            remote_ip=row["remote_ip"],
            mail_from_validated=bool(row["mail_from_validated"]),
            msg_from_validated=bool(row["msg_from_validated"]),
            dkim_domains=_list(row["dkim_domains"]),
            dsn=bool(row["dsn"]),
        ),
        parts=partlib.decode(parts) if parts else None,
        ref=row["path"],
    )


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

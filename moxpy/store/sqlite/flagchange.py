"""Changing messages' flags: add, remove or set system flags and keywords
(IMAP STORE +FLAGS, -FLAGS, FLAGS, RFC 3501 6.4.6; FETCH of a body
section setting \\Seen; the webapi's MessageFlagsAdd and Remove)."""

from __future__ import annotations

import json
import sqlite3

from .. import flags as flaglib
from ..accounts import Change
from . import mailboxes, rows
from .messages import next_modseq_tx

MODES = ("add", "remove", "set")


def new_flags(mode: str, old_mask: int, old_keywords: list[str], mask: int, keywords: list[str]
              ) -> tuple[int, list[str]]:
    """A message's flags bits and sorted keywords after a change."""
    if mode == "add":
        return old_mask | mask, sorted(set(old_keywords) | set(keywords))
    if mode == "remove":
        return old_mask & ~mask, sorted(set(old_keywords) - set(keywords))
    return mask, sorted(keywords)


def change_tx(conn: sqlite3.Connection, targets: list[sqlite3.Row], mode: str, mask: int, keywords: list[str],
              origin) -> tuple[list[sqlite3.Row], list[Change]]:
    """Change the flags of messages (rows with id, mailbox_id, uid, flags, keywords); returns the rows
    (rows.MESSAGE_COLUMNS) of those that changed, and the changes to announce: per mailbox, one for
    each difference made (the flags added and removed), in UID order."""
    changed = []
    differences: dict[tuple[int, tuple[str, ...], tuple[str, ...]], list[sqlite3.Row]] = {}
    modseq = 0
    for row in targets:
        old_keywords = json.loads(row["keywords"])
        new_mask, new_keywords = new_flags(mode, row["flags"], old_keywords, mask, keywords)
        if new_mask == row["flags"] and new_keywords == old_keywords:
            continue
        modseq = modseq or next_modseq_tx(conn)
        updated = conn.execute(
            f"update messages set flags = ?, keywords = ?, modseq = ? where id = ? returning {rows.MESSAGE_COLUMNS}",
            (new_mask, json.dumps(new_keywords), modseq, row["id"])).fetchone()
        changed.append(updated)
        before, after = flaglib.names(row["flags"], old_keywords), flaglib.names(new_mask, new_keywords)
        key = (row["mailbox_id"], tuple(f for f in after if f not in before), tuple(f for f in before if f not in after))
        differences.setdefault(key, []).append(updated)
    changes = []
    keywords_noted: set[int] = set()
    for (mailbox_id, added, removed), in_box in differences.items():
        # Removing never brings a keyword the mailbox had not seen.
        if mode != "remove" and mailbox_id not in keywords_noted and mailboxes.add_keywords_tx(
                conn, mailbox_id, {k for r in changed if r["mailbox_id"] == mailbox_id
                                   for k in json.loads(r["keywords"])}):
            changes.append(Change("keywords", mailbox_id, origin=origin))
        keywords_noted.add(mailbox_id)
        changes.append(Change("flags", mailbox_id, [r["uid"] for r in in_box], [r["id"] for r in in_box], modseq,
                              origin, added=list(added), removed=list(removed)))
    return changed, changes

"""Modification sequences of a mailbox, for IMAP CONDSTORE and QRESYNC
(RFC 7162): the highest of a mailbox, the messages changed since one,
and the UIDs expunged since one.

One counter (meta 'modseq') numbers every change of the account, so a
message's modseq and the change log's positions agree (changelog.py).
Expunges are known from the change log's messageDeleted entries, which
are pruned after the account's ChangesRetention: since then only
"something may have been expunged" can be said (expunged returns None).
"""

from __future__ import annotations

from .. import dialect
from ..accounts import Message
from ..db import Database
from . import rows


def highest(db: Database, mailbox_id: int) -> int:
    """RFC 7162 3.1.2.1 HIGHESTMODSEQ: never lower than the modseq of any change to the mailbox's
    messages, expunges included, and never going down. The pruned boundary stands in for the
    expunges whose entries were pruned."""
    # event = 'messageDeleted' is written out so that the partial index changes_expunged applies.
    row = db.query_one(
        f"""select {dialect.greatest(db)}(coalesce((select max(modseq) from messages where mailbox_id = ?), 0),
                      coalesce((select max(modseq) from changes where mailbox_id = ? and event = 'messageDeleted'), 0),
                      coalesce((select value from meta where key = 'changes_pruned_modseq'), 0),
                      1)""", (mailbox_id, mailbox_id))
    return row[0]


def changed(db: Database, mailbox_id: int, since: int) -> list[Message]:
    """The mailbox's messages with a modseq above since, by UID. A range scan of the (mailbox_id,
    modseq) index, so a few changes in a large mailbox are found without reading the others."""
    found = db.query(f"select {rows.MESSAGE_COLUMNS} from messages "
                     "where mailbox_id = ? and modseq > ?", (mailbox_id, since))
    return sorted((rows.message(r) for r in found), key=lambda m: m.uid)


def expunged(db: Database, mailbox_id: int, since: int) -> list[int] | None:
    """UIDs removed from the mailbox by changes with a modseq above since, ascending; None when
    entries after since were pruned from the change log."""
    found = db.query("select uid from changes where mailbox_id = ? and event = 'messageDeleted' and modseq > ?",
                     (mailbox_id, since))
    # Read after the entries: the boundary only moves forward (as changelog.since does).
    pruned = db.query_one("select value from meta where key = 'changes_pruned_modseq'")
    if pruned is not None and since < pruned[0]:
        return None
    return sorted({r[0] for r in found})

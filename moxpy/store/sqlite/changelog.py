"""The account's change log (table changes): the Change records of a
transaction, written in that same transaction, one row per event about
one message or mailbox, and read back in order from a position.

Rows are ordered by (modseq, seq): the transaction's modseq (the account's
change counter, RFC 7162 MODSEQ), then the row's place among that
transaction's rows. The account's writers commit one at a time under the
database's write lock and take their modseq inside the transaction, so
commit order is modseq order: a reader that has seen the log up to a
position never later finds an entry before it, whichever process wrote it.

Pruning removes whole transactions from the start and remembers the last
position removed (meta changes_pruned_modseq, changes_pruned_seq):
positions before it are expired.
"""

from __future__ import annotations

import json
import sqlite3
import time

from ..accounts import (CHANGE_EVENTS, Change, ChangePosition, ChangePositionUnknown, ChangesExpired,
                        LoggedChange)
from ..db import Database
from .messages import next_modseq_tx

_EVENT_OF_KIND = {kind: event for event, kind in CHANGE_EVENTS.items()}
_COLUMNS = "modseq, seq, at, event, mailbox_id, mailbox_name, msg_id, uid, old_name, added, removed"


def record_tx(conn: sqlite3.Connection, changes: list[Change]) -> None:
    """Write the log entries of a transaction's changes (all kinds but keywords), in their order."""
    at = time.time()
    names: dict[int, str] = {}
    seqs: dict[int, int] = {}
    rows = []
    for change in changes:
        event = _EVENT_OF_KIND.get(change.kind)
        if event is None:
            continue
        if not change.modseq:
            # Every logged kind is made with its transaction's modseq; one missing still gets an order.
            change.modseq = next_modseq_tx(conn)
        name = change.mailbox_name or _mailbox_name(conn, names, change.mailbox_id)
        added, removed = json.dumps(change.added), json.dumps(change.removed)
        targets = list(zip(change.msg_ids, change.uids)) if change.kind in ("added", "removed", "flags") \
            else [(0, 0)]
        for msg_id, uid in targets:
            seq = seqs[change.modseq] = seqs.get(change.modseq, 0) + 1
            rows.append((change.modseq, seq, at, event, change.mailbox_id, name, msg_id, uid, change.old_name,
                         added, removed))
    if rows:
        conn.executemany(f"insert into changes ({_COLUMNS}) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


def _mailbox_name(conn: sqlite3.Connection, names: dict[int, str], mailbox_id: int) -> str:
    name = names.get(mailbox_id)
    if name is None:
        row = conn.execute("select name from mailboxes where id = ?", (mailbox_id,)).fetchone()
        name = names[mailbox_id] = row[0] if row else ""
    return name


def _meta(db: Database, key: str) -> int:
    row = db.query_one("select value from meta where key = ?", (key,))
    return row[0] if row else 0


def _pruned(db: Database) -> ChangePosition:
    return ChangePosition(_meta(db, "changes_pruned_modseq"), _meta(db, "changes_pruned_seq"))


def current(db: Database) -> ChangePosition:
    """The position after the last entry, also when the last entries were pruned."""
    row = db.query_one("""select m.value, (select coalesce(max(seq), 0) from changes where modseq = m.value)
                          from meta m where m.key = 'modseq'""")
    return max(ChangePosition(row[0], row[1]), _pruned(db))


def since(db: Database, position: ChangePosition | None, limit: int
          ) -> tuple[list[LoggedChange], ChangePosition, bool]:
    """Account.changes_since."""
    now = current(db)
    if position is None:
        return [], now, False
    if position > now:
        raise ChangePositionUnknown(f"position {position.modseq}.{position.seq} is ahead of the change log")
    rows = db.query(f"select {_COLUMNS} from changes where (modseq, seq) > (?, ?) order by modseq, seq limit ?",
                    (position.modseq, position.seq, limit + 1))
    # Read after the rows: the boundary only moves forward, so if it is not past position now, none of the
    # rows after position had been pruned when they were read.
    if position < _pruned(db):
        raise ChangesExpired(f"changes after {position.modseq}.{position.seq} are no longer kept")
    more = len(rows) > limit
    entries = [_entry(r) for r in rows[:limit]]
    return entries, entries[-1].position if entries else position, more


def _entry(row: sqlite3.Row) -> LoggedChange:
    (modseq, seq, at, event, mailbox_id, mailbox_name, msg_id, uid, old_name, added, removed) = row
    return LoggedChange(position=ChangePosition(modseq, seq), event=event, at=at, mailbox_id=mailbox_id,
                        mailbox_name=mailbox_name, msg_id=msg_id, uid=uid, old_name=old_name,
                        added=json.loads(added), removed=json.loads(removed))


def prune_tx(conn: sqlite3.Connection, before: float) -> int:
    """Remove the entries of transactions with an entry made before that Unix time; how many."""
    (last,) = conn.execute("select max(modseq) from changes where at < ?", (before,)).fetchone()
    if last is None:
        return 0
    (last_seq,) = conn.execute("select max(seq) from changes where modseq = ?", (last,)).fetchone()
    removed = conn.execute("delete from changes where modseq <= ?", (last,)).rowcount
    conn.executemany("update meta set value = ? where key = ?",
                     [(last, "changes_pruned_modseq"), (last_seq, "changes_pruned_seq")])
    return removed

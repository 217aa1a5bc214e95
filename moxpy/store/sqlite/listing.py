"""Pages of message summaries, newest first, for a MessageFilter: one SQL
query over the messages' columns and, for words, the full-text table
(message_text, see fulltext.py), never a message file.

Order is by received time, then id, both descending, with an index on
(mailbox_id, received, id) and one on (received, id) for several
mailboxes. A page starts at an offset, or after a (received, id)
position: the keyset way, so a client paging with it neither skips nor
repeats messages while new ones arrive (they sort before the position).
"""

from __future__ import annotations

import json
import sqlite3

from .. import dialect
from .. import flags as flaglib
from ..accounts import SummaryPage
from ..db import Database
from ..search import MessageFilter, SearchError
from . import fulltext, summaries


def _condition(db: Database, selected: MessageFilter) -> tuple[str, list]:
    """The where clause over messages m selecting the filter's messages, and its parameters."""
    terms: list[str] = []
    params: list = []
    if selected.mailbox_ids is not None:
        if len(selected.mailbox_ids) == 1:
            terms.append("m.mailbox_id = ?")
        else:
            terms.append(f"m.mailbox_id in ({', '.join('?' * len(selected.mailbox_ids))})")
        params += selected.mailbox_ids
    wanted = [(columns, text, what) for columns, text, what in (
        (("from_addresses",), selected.from_, "From"),
        (("to_addresses",), selected.to, "To"),
        (("subject",), selected.subject, "Subject"),
        (("body",), selected.body, "Body"),
        ((), selected.text, "Text"),
    ) if text]
    if wanted and dialect.of(db) == dialect.POSTGRESQL:
        from ..pg import fulltext as pgfulltext  # the same language over that backend's table of words

        words, word_params = pgfulltext.condition(wanted)
        terms.append(f"m.id in (select rowid from message_text where {words})")
        params += word_params
    elif wanted:
        terms.append("m.id in (select rowid from message_text where message_text match ?)")
        params.append(" AND ".join(fulltext.query(columns, text, what) for columns, text, what in wanted))
    if selected.since is not None:
        terms.append("m.received >= ?")
        params.append(selected.since)
    if selected.before is not None:
        terms.append("m.received < ?")
        params.append(selected.before)
    for names, present in ((selected.flags, True), (selected.not_flags, False)):
        mask, keywords = flaglib.parse(names)
        if mask:
            terms.append("m.flags & ? = ?" if present else "m.flags & ? = 0")
            params += [mask, mask] if present else [mask]
        for keyword in keywords:
            # Keywords are stored as a JSON list of lower-case atoms, so a quoted keyword is found whole.
            terms.append(f"{dialect.instr(db)}(m.keywords, ?) {'>' if present else '='} 0")
            params.append(json.dumps(keyword))
    if selected.has_attachments is not None:
        terms.append("m.has_attachments = ?")
        params.append(int(selected.has_attachments))
    if selected.larger_than:
        terms.append("m.size > ?")
        params.append(selected.larger_than)
    if selected.smaller_than:
        terms.append("m.size < ?")
        params.append(selected.smaller_than)
    if selected.message_id:
        terms.append("m.message_id = ?")
        params.append(selected.message_id)
    return " and ".join(terms) or dialect.boolean(db, True), params


def page(db: Database, selected: MessageFilter, limit: int, offset: int, after: tuple[float, int] | None
         ) -> SummaryPage:
    """Over a read connection of the calling thread's own (db.query_apart): callers may run it in a worker
    thread, and a search of a large account may take a while."""
    condition, params = _condition(db, selected)
    try:
        if after is None:
            (total,) = db.query_apart(f"select count(*) from messages m where {condition}", params)[0]
        else:
            # Those at or before the position (newer, or the one there) come before the page.
            total, offset = db.query_apart(
                "select count(*), coalesce(sum(case when (m.received, m.id) >= (?, ?) then 1 else 0 end), 0) "
                f"from messages m where {condition}",
                list(after) + params)[0]
            condition += " and (m.received, m.id) < (?, ?)"
            params = params + list(after)
        found = db.query_apart(
            f"select {summaries.SELECT} from {summaries.FROM} where {condition} "
            "order by m.received desc, m.id desc limit ? offset ?",
            params + [limit + 1, 0 if after is not None else offset])
    except sqlite3.OperationalError as e:
        # fulltext.query makes only valid FTS5 queries; should one still be refused, it is the search text's fault.
        if "fts5" in str(e):
            raise SearchError(f"search text not understood: {e}") from None
        raise
    return SummaryPage(summaries=[summaries.summary(r) for r in found[:limit]], total=total, offset=offset,
                       more=len(found) > limit)

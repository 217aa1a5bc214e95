"""Operator control of the webhook queue: list, kick, drop, and the retired
list. Like queue.control, each change is one transaction that a running
server notices at its next rescan (within a second).
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass, field

from .enqueue import retire_row_tx


@dataclass
class Filter:
    ids: list[int] = field(default_factory=list)
    account: str = ""
    event: str = ""  # "incoming" or an outgoing event
    queue_msg_id: int = 0

    def where(self) -> tuple[str, list]:
        clauses, params = [], []
        if self.ids:
            clauses.append(f"id in ({','.join('?' * len(self.ids))})")
            params += self.ids
        if self.account:
            clauses.append("account = ?")
            params.append(self.account)
        if self.event == "incoming":
            clauses.append("is_incoming = 1")
        elif self.event:
            clauses.append("event = ?")
            params.append(self.event)
        if self.queue_msg_id:
            clauses.append("queue_msg_id = ?")
            params.append(self.queue_msg_id)
        return " and ".join(clauses) or "1", params


def list_queue(query, f: Filter) -> list[sqlite3.Row]:
    where, params = f.where()
    return query(f"select * from webhooks where {where} order by next_attempt, id", params)


def list_retired(query, f: Filter) -> list[sqlite3.Row]:
    where, params = f.where()
    return query(f"select * from webhooks_retired where {where} order by last_activity desc, id desc", params)


def kick(conn: sqlite3.Connection, f: Filter, now: float | None = None) -> int:
    where, params = f.where()
    now = time.time() if now is None else now
    return conn.execute(f"update webhooks set next_attempt = ? where {where}", [now] + params).rowcount


def drop(conn: sqlite3.Connection, f: Filter, keep_period, now: float | None = None) -> int:
    """Give up matching webhooks; kept as retired (not successful) with a note."""
    where, params = f.where()
    now = time.time() if now is None else now
    rows = conn.execute(f"select * from webhooks where {where}", params).fetchall()
    for row in rows:
        conn.execute("delete from webhooks where id = ?", (row["id"],))
        keep = keep_period(row["account"])
        if keep > 0:
            results = json.loads(row["results"]) + [{"Start": now, "Duration": 0.0, "URL": row["url"],
                                                     "Success": False, "Code": 0, "Error": "canceled by operator",
                                                     "Response": ""}]
            retire_row_tx(conn, dict(row), success=False, now=now, keep=keep, results=results)
    return len(rows)

"""Operator control of the delivery queue: list, hold, release, kick, drop,
and the retired list.

Each change is one transaction on the server database, so the commands can
run in their own process (`mox.py queue ...`) next to a running server
(SQLite in WAL mode, one writer at a time). The server's worker rescans the
queue at least every second, so a release or kick takes effect within a
second, and an entry dropped during its delivery attempt is simply not
recorded again when the attempt ends.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field

from .outcome import Recorder, attempt_result


@dataclass
class Filter:
    """Which entries a command applies to; empty fields match everything."""

    ids: list[int] = field(default_factory=list)
    account: str = ""
    domain: str = ""  # recipient domain, exact, case-insensitive
    to: str = ""  # part of the recipient address
    hold: bool | None = None  # queue only: on hold or not
    success: bool | None = None  # retired only: delivered or not

    def where(self, retired: bool = False) -> tuple[str, list]:
        clauses, params = [], []
        if self.ids:
            clauses.append(f"id in ({','.join('?' * len(self.ids))})")
            params += self.ids
        if self.account:
            clauses.append("account = ?")
            params.append(self.account)
        if self.domain:
            clauses.append("rcpt_domain = ?")
            params.append(self.domain.lower().lstrip("@"))
        if self.to:
            clauses.append("instr(lower(rcpt_to), ?) > 0")
            params.append(self.to.lower())
        if self.hold is not None and not retired:
            clauses.append("hold = ?")
            params.append(int(self.hold))
        if self.success is not None and retired:
            clauses.append("success = ?")
            params.append(int(self.success))
        return " and ".join(clauses) or "1", params


def list_queue(query, f: Filter) -> list[sqlite3.Row]:
    where, params = f.where()
    return query(f"select * from queue where {where} order by next_attempt, id", params)


def list_retired(query, f: Filter) -> list[sqlite3.Row]:
    where, params = f.where(retired=True)
    return query(f"select * from retired where {where} order by retired desc, id desc", params)


def set_hold(conn: sqlite3.Connection, f: Filter, hold: bool) -> int:
    """Put matching entries on hold (no attempts) or release them; return how many changed."""
    where, params = f.where()
    return conn.execute(f"update queue set hold = ? where ({where}) and hold != ?",
                        [int(hold)] + params + [int(hold)]).rowcount


def kick(conn: sqlite3.Connection, f: Filter, now: float | None = None) -> int:
    """Make matching entries not on hold due now; return how many."""
    where, params = f.where()
    now = time.time() if now is None else now
    return conn.execute(f"update queue set next_attempt = ? where ({where}) and hold = 0",
                        [now] + params).rowcount


def drop(conn: sqlite3.Connection, f: Filter, recorder: Recorder, now: float | None = None) -> tuple[int, list[str]]:
    """Remove matching entries from the queue with a "canceled" event, no DSN.

    Returns the count and the message files no longer used, for the caller
    to remove after the commit.
    """
    where, params = f.where()
    now = time.time() if now is None else now
    rows = conn.execute(f"select * from queue where {where}", params).fetchall()
    paths = []
    for row in rows:
        result = attempt_result(now, False, error="delivery canceled by operator", end=now)
        path = recorder.retire(conn, dict(row), "canceled", result=result, now=now)
        if path:
            paths.append(path)
    return len(rows), paths

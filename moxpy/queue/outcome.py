"""Recording what happened to queue entries, inside write transactions.

Every state change of an entry (delivered, delayed, failed, suppressed,
canceled, or learned later from an incoming DSN) is recorded here, and each
produces an Event handed to the registered event sinks in the same
transaction: the webhook queue inserts its rows there, so an outcome and its
webhook are committed together or not at all.

Used by the delivery worker and by the operator commands alike; nothing in
here does I/O besides the SQL of the transaction it is given.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from .events import Event
from .schema import COLUMNS, RETIRED_COLUMNS

# Called with the open transaction; raising rolls the whole outcome back.
EventSink = Callable[[sqlite3.Connection, Event], None]


def attempt_result(start: float, success: bool, code: int = 0, enhanced: str = "", error: str = "",
                   end: float | None = None) -> dict[str, Any]:
    """One element of an entry's results list (MsgResult in mox)."""
    end = time.time() if end is None else end
    return {"Start": start, "Duration": max(0.0, end - start), "Success": success, "Code": code,
            "Secode": enhanced, "Error": error}


class Recorder:
    """Writes outcomes of entries and emits their events."""

    def __init__(self, keep_period: Callable[[str], float], sinks: list[EventSink] | None = None):
        self.keep_period = keep_period  # seconds an account's retired entries are kept
        self.sinks: list[EventSink] = sinks if sinks is not None else []

    def emit(self, conn: sqlite3.Connection, event: Event) -> None:
        for sink in self.sinks:
            sink(conn, event)

    def retire(self, conn: sqlite3.Connection, entry: dict[str, Any], event: str, *, success: bool = False,
               result: dict[str, Any] | None = None, suppressing: bool = False, now: float | None = None,
               error: str | None = None) -> str | None:
        """Move an entry from the queue to retired and emit its event.

        result is the attempt that ended it, appended to its results. Returns
        the entry's message file when no other queued entry uses it: the
        caller removes it after the commit.
        """
        now = time.time() if now is None else now
        values = {c: entry[c] for c in COLUMNS}
        if result is not None:
            values["results"] = json.dumps(json.loads(values["results"] or "[]") + [result])
            values.update(last_code=result["Code"], last_enhanced_code=result["Secode"], last_error=result["Error"])
        if error is not None:
            values["last_error"] = error
        values["delivering"] = 0
        keep = self.keep_period(entry["account"])
        conn.execute("delete from queue where id = ?", (entry["id"],))
        if keep > 0:
            values.update(retired=now, event=event, success=int(success), keep_until=now + keep)
            columns = [c for c in {**COLUMNS, **RETIRED_COLUMNS}]
            conn.execute(f"insert or replace into retired ({','.join(columns)}) values ({','.join('?' * len(columns))})",
                         [values[c] for c in columns])
        # As mox, the SMTP codes are for errors: a delivered event carries none, though its attempt got a 250.
        codes = {} if success else dict(smtp_code=values["last_code"], smtp_enhanced_code=values["last_enhanced_code"])
        self.emit(conn, Event.of(event, values, suppressing=suppressing, error=values["last_error"], **codes))
        still_used = conn.execute("select 1 from queue where path = ? limit 1", (entry["path"],)).fetchone()
        return None if still_used else entry["path"]

    def delay(self, conn: sqlite3.Connection, entry: dict[str, Any], result: dict[str, Any],
              next_attempt: float) -> None:
        """Record a temporary failure: the entry stays queued until next_attempt."""
        results = json.loads(entry["results"] or "[]") + [result]
        conn.execute(
            """update queue set delivering = 0, next_attempt = ?, last_code = ?, last_enhanced_code = ?,
                   last_error = ?, results = ? where id = ?""",
            (next_attempt, result["Code"], result["Secode"], result["Error"], json.dumps(results), entry["id"]))
        self.emit(conn, Event.of("delayed", entry, smtp_code=result["Code"], smtp_enhanced_code=result["Secode"],
                                 error=result["Error"]))


def add_dsn_tx(conn: sqlite3.Connection, account: str, rcpt_to: str, data: bytes) -> None:
    """Queue a DSN for the sender's mailbox in the transaction that decided on it."""
    conn.execute("insert into dsn_outbox (account, rcpt_to, data) values (?, ?, ?)", (account, rcpt_to, data))

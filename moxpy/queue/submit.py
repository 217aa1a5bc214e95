"""Submitting a message to the queue: one entry per recipient.

The message file is written and fsync'ed first, then the entries and the
send-limit records in one transaction; the submitter is answered only after
that commit (RFC 5321 6.1: once accepted, a message must not be lost).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from dataclasses import dataclass, field

from ..store.db import Database
from ..store.files import remove_message_file, write_message_file
from . import limits


@dataclass
class Recipient:
    address: str
    from_id: str = ""
    mail_from: str = ""


@dataclass
class Submission:
    """One message for one or more recipients, as submitted by an account."""

    account: str
    sender: str
    recipients: list[Recipient]
    data: bytes
    message_id: str = ""
    subject: str = ""
    smtputf8: bool = False
    require_tls: bool | None = None
    extra: dict[str, str] = field(default_factory=dict)
    release_at: float | None = None  # FutureRelease: no attempt before this time


async def add(db: Database, directory: str, submission: Submission) -> list[int]:
    """Store the message and one entry per recipient durably; return the entry ids."""
    loop = asyncio.get_running_loop()
    relpath, bucket = await loop.run_in_executor(None, write_message_file, directory, submission.data)
    now = time.time()
    next_attempt = submission.release_at or now

    def insert(conn: sqlite3.Connection) -> list[int]:
        ids = []
        for rcpt in submission.recipients:
            cursor = conn.execute(
                """insert into queue (account, created, sender, mail_from, rcpt_to, rcpt_domain, from_id,
                       message_id, subject, path, size, smtputf8, require_tls, extra, next_attempt)
                   values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (submission.account, now, submission.sender, rcpt.mail_from or submission.sender, rcpt.address,
                 rcpt.address.rpartition("@")[2].lower(), rcpt.from_id, submission.message_id,
                 submission.subject, relpath, len(submission.data), submission.smtputf8,
                 submission.require_tls, json.dumps(submission.extra), next_attempt),
            )
            ids.append(cursor.lastrowid)
        limits.record_tx(conn, submission.account, [r.address for r in submission.recipients], now)
        return ids

    try:
        ids = await db.write(insert, sync_dirs=[bucket])
    except BaseException:
        remove_message_file(directory, relpath)
        raise
    return ids

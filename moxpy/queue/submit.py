"""Submitting a message to the queue: one entry per recipient.

The store writes the message, the entries and the send-limit log in one
durable commit; the submitter is answered only after it (RFC 5321 6.1: once
accepted, a message must not be lost).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..store.queue import IdempotencyKey, NewEntry, QueueTransaction


@dataclass
class Recipient:
    address: str
    from_id: str = ""  # with FromID tracking (fromid.recipients)
    mail_from: str = ""  # the MAIL FROM for this recipient; "" for the submission's sender


@dataclass
class NewMessage:
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
    idempotency: IdempotencyKey | None = None  # recorded in the commit that queues it
    then: Callable[[QueueTransaction, list[int]], None] | None = None  # run in that commit (QueueStore.submit)


def entries(submission: NewMessage, now: float) -> list[NewEntry]:
    """The queue entries of a submission made at now."""
    return [NewEntry(account=submission.account, created=now, sender=submission.sender,
                     mail_from=rcpt.mail_from or submission.sender, rcpt_to=rcpt.address,
                     rcpt_domain=rcpt.address.rpartition("@")[2].lower(), from_id=rcpt.from_id,
                     message_id=submission.message_id, subject=submission.subject, smtputf8=submission.smtputf8,
                     require_tls=submission.require_tls, extra=dict(submission.extra),
                     next_attempt=submission.release_at or now)
            for rcpt in submission.recipients]

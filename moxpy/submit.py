"""Submitting: the one path by which an account's message enters the delivery queue.

SMTP submission (smtpserver/submission.py) and the webapi's Send both come
here; each only translates its protocol's input into these steps and the
errors below into its own answers (SMTP replies, webapi error codes). The
steps, which each listener takes in its protocol's order, with its own
checks in between:

- check_sender: the account may use the address, as From and as MAIL FROM
  (RFC 6409 6.1: a submission server may insist on the sender's identity);
- check_limits: the account's daily sending limits (queue/limits.py);
- sign: DKIM signatures for the From domain (RFC 6376), when it has keys;
- enqueue: one queue entry per recipient, each with its own MAIL FROM and
  FromID when the login address tracks them (queue.recipients), stored
  durably before it returns; with an idempotency key, the key and the
  answer to repeats are stored in the same commit (earlier() finds them).

It composes no messages (message/compose.py does, for the webapi) and
knows nothing of SMTP or HTTP.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import config as configlib
from . import queue as queuelib
from .message import dkim as dkimlib
from .store.queue import IDEMPOTENCY_KEEP, IdempotencyKey, IdempotencyRecord, QueueTransaction


class SubmitError(Exception):
    """A message that may not be queued; the subclass says why, the text for people."""


class SenderNotAllowed(SubmitError):
    def __init__(self, address: str):
        super().__init__(f"not allowed to send as {address}")
        self.address = address


class LimitReached(SubmitError):
    """A daily limit of the account would be exceeded; sending works again as the 24-hour window moves on."""

    def __init__(self, kind: str, maximum: int, setting: str):
        super().__init__(f"{setting} ({maximum}) reached")
        self.kind = kind  # "messages" or "recipients" (first-time recipients)
        self.maximum = maximum
        self.setting = setting  # the account setting that sets it


class SigningFailed(SubmitError):
    """DKIM signing failed (a key that cannot be read or used)."""


class FromIDNotAllowed(SubmitError):
    """A FromID chosen by the sender, with more than one recipient."""


@dataclass
class Idempotency:
    """A client's idempotency key for one submission, with the hash of its request."""

    key: str
    digest: str
    respond: Callable[[list["Queued"]], str]  # the answer, kept for repeats


@dataclass
class Queued:
    """One queue entry made for a recipient."""

    address: str  # the recipient
    from_id: str  # the ID in its MAIL FROM, "" without FromID tracking
    queue_id: int


class Submitter:
    def __init__(self, config: configlib.Source, queue: queuelib.Queue):
        self.config = config
        self.queue = queue

    def check_sender(self, account: str, address: str) -> None:
        """SenderNotAllowed unless address delivers to the account."""
        if not configlib.may_send_as(self.config.current(), account, address):
            raise SenderNotAllowed(address)

    def check_limits(self, account: str, recipients: list[str]) -> None:
        """LimitReached when queueing for these recipients would exceed a daily limit of the account."""
        settings = self.config.current().Accounts[account]
        reached = self.queue.limit_reached(account, recipients, settings.MaxOutgoingMessagesPerDay,
                                           settings.MaxFirstTimeRecipientsPerDay)
        if reached == "messages":
            raise LimitReached(reached, settings.MaxOutgoingMessagesPerDay, "MaxOutgoingMessagesPerDay")
        if reached == "recipients":
            raise LimitReached(reached, settings.MaxFirstTimeRecipientsPerDay, "MaxFirstTimeRecipientsPerDay")

    async def sign(self, data: bytes, from_domain: str) -> bytes:
        """The message with DKIM-Signature fields for from_domain in front; SigningFailed."""
        try:
            return await dkimlib.sign(self.config.current(), data, from_domain)
        except dkimlib.DKIMError as e:
            raise SigningFailed(str(e)) from e

    async def enqueue(self, *, account: str, login: str, mail_from: str, recipients: list[str], data: bytes,
                      message_id: str = "", subject: str = "", smtputf8: bool = False,
                      require_tls: bool | None = None, extra: dict[str, str] | None = None,
                      release_at: float | None = None, own_from_id: bool = False,
                      idempotency: Idempotency | None = None,
                      then: Callable[[QueueTransaction, list[int]], None] | None = None) -> list[Queued]:
        """Queue data for the recipients, durably; one Queued per recipient, in order.

        login is the address the account logged in with: it decides FromID
        tracking. With own_from_id (SMTP, as mox), a FromID the sender put in
        mail_from is kept; it then allows one recipient only (FromIDNotAllowed).
        With idempotency, IdempotencyKeyUsed when the account's key is taken
        by a submission committed meanwhile (nothing queued). then(tx, ids)
        runs in the commit that queues it; what it raises is passed on, and
        nothing is queued.
        Errors of the queue's storage are passed on as they are.
        """
        try:
            entries = queuelib.recipients(self.config.current(), account, login, mail_from, recipients,
                                          own_id_allowed=own_from_id)
        except ValueError as e:
            raise FromIDNotAllowed(str(e)) from None
        def queued(ids: list[int]) -> list[Queued]:
            return [Queued(entry.address, entry.from_id, queue_id) for entry, queue_id in zip(entries, ids)]

        key = None
        if idempotency is not None:
            key = IdempotencyKey(account, idempotency.key, idempotency.digest,
                                 lambda ids: idempotency.respond(queued(ids)))
        ids = await self.queue.add(queuelib.NewMessage(
            account=account, sender=mail_from, recipients=entries, data=data, message_id=message_id,
            subject=subject, smtputf8=smtputf8, require_tls=require_tls, extra=dict(extra or {}),
            release_at=release_at, idempotency=key, then=then))
        return queued(ids)

    def earlier(self, account: str, key: str, now: float) -> IdempotencyRecord | None:
        """The account's submission under the idempotency key in the last 24 hours; None for none."""
        return self.queue.store.idempotency_record(account, key, now - IDEMPOTENCY_KEEP)

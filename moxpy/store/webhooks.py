"""Storage of the webhook queue: the records it keeps and the interface a
backend implements (SQLite: store/sqlite/webhooks.py).

Webhook is a webhook still to be delivered, RetiredWebhook one delivered,
given up, superseded or canceled, kept for the account's
KeepRetiredWebhookPeriod with the result of every attempt (the
Authorization value itself is not kept, only whether there was one).

WebhookStore holds the operations that are one transaction each;
WebhookTransaction the steps inside one WebhookStore.transaction(). The
delivery queue's transactions carry a WebhookTransaction too
(QueueTransaction.webhooks), so a webhook about an outcome commits with it.

Change webhooks are made from each account's change log; the position in
that log up to which they were queued is kept here, per account, and moves
in the transaction that queues them, so none is made twice or skipped.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Protocol, TypeVar

from .accounts import ChangePosition

T = TypeVar("T")


@dataclass(frozen=True)
class WebhookAttempt:
    """One POST of a webhook."""

    start: float  # unix time the request started
    duration: float  # seconds until the answer (or the error)
    url: str  # where it was posted
    success: bool  # a 2xx answer
    code: int  # HTTP status; 0 without an answer
    error: str  # what went wrong, "" on success
    response: str  # the start of the response body


@dataclass
class WebhookRecord:
    """The fields of queued and retired webhooks alike."""

    id: int  # X-Mox-Webhook-ID: never reused; 0 until queued
    account: str  # the account the webhook is for
    url: str  # where it is posted
    is_incoming: bool  # about an incoming message rather than an outgoing event
    event: str  # the outgoing event; "" for incoming
    payload: str  # the JSON body, fixed when queued
    submitted: float  # unix time it was queued
    queue_msg_id: int = 0  # the queue entry an outgoing webhook is about; 0 for incoming
    from_id: str = ""  # of that entry
    message_id: str = ""  # Message-ID of the message it is about
    subject: str = ""  # Subject of the message it is about
    extra: dict[str, str] = field(default_factory=dict)  # the entry's Extra fields
    attempts: int = 0  # POSTs made so far
    results: list[WebhookAttempt] = field(default_factory=list)  # every POST, oldest first


@dataclass
class Webhook(WebhookRecord):
    """A webhook still to be delivered."""

    authorization: str = ""  # Authorization header value; "" for none
    next_attempt: float = 0.0  # unix time of the next POST

    def retired(self, *, success: bool, now: float, keep: float, superseded_by: int = 0) -> "RetiredWebhook":
        """Its retired form, kept for keep seconds from now."""
        common = {f.name: getattr(self, f.name) for f in fields(WebhookRecord)}
        return RetiredWebhook(**common, has_authorization=bool(self.authorization), success=success,
                              superseded_by=superseded_by, last_activity=now, keep_until=now + keep)


@dataclass
class RetiredWebhook(WebhookRecord):
    """A delivered, given-up, superseded or canceled webhook."""

    has_authorization: bool = False  # whether it was sent with an Authorization header
    success: bool = False  # delivered
    superseded_by: int = 0  # the newer webhook about the same queue entry that replaced it
    last_activity: float = 0.0  # unix time it was retired
    keep_until: float = 0.0  # unix time after which it is forgotten


@dataclass
class WebhookFilter:
    """Which webhooks an operator command applies to; empty fields match everything."""

    ids: list[int] = field(default_factory=list)
    account: str = ""
    event: str = ""  # "incoming", an outgoing event or a change event
    queue_msg_id: int = 0
    since: float = 0.0  # queued at or after this Unix time


class WebhookTransaction(Protocol):
    """Steps inside one transaction on the webhook queue."""

    def add(self, hook: Webhook, *, supersede: bool = False, keep: float = 0.0) -> int:
        """Queue hook (its id is ignored); the new id.

        With supersede, other queued webhooks about the same queue entry are
        retired as superseded by it at hook.submitted, kept for keep seconds
        (0: not kept): only the newest state of a message matters.
        """
        ...

    def get(self, hook_id: int) -> Webhook | None: ...

    def get_retired(self, hook_id: int) -> RetiredWebhook | None: ...

    def matching(self, f: WebhookFilter) -> list[Webhook]: ...

    def retired_matching(self, f: WebhookFilter) -> list[RetiredWebhook]:
        """Retired webhooks, in the order they were first queued."""
        ...

    def save(self, hook: Webhook | RetiredWebhook) -> None:
        """Write back attempts and results (and for a queued one, its next attempt)."""
        ...

    def retire(self, hook_id: int, retired: RetiredWebhook | None) -> None:
        """Take the webhook out of the queue, keeping retired (None: keep nothing)."""
        ...

    def change_position(self, account: str) -> ChangePosition | None:
        """How far in the account's change log change webhooks were queued; None when not noted."""
        ...

    def set_change_position(self, account: str, position: ChangePosition | None) -> None:
        """Note how far change webhooks were queued (None: forget it)."""
        ...


class WebhookStore(Protocol):
    """The webhook queue's storage."""

    def transaction(self, fn: Callable[[WebhookTransaction], T]) -> Awaitable[T]:
        """Run fn in one transaction and return its result once committed (see QueueStore.transaction)."""
        ...

    def due_urls(self, now: float, exclude: Sequence[str], limit: int) -> list[str]:
        """URLs with a webhook due, the longest waiting first, leaving out exclude."""
        ...

    def due(self, url: str, now: float, exclude: Sequence[int], limit: int) -> list[Webhook]:
        """The due webhooks for one URL, earliest first, leaving out exclude."""
        ...

    def get(self, hook_id: int) -> Webhook | None:
        """The queued webhook, None once retired."""
        ...

    def next_due(self) -> float | None:
        """When the earliest queued webhook is due; None when there is none."""
        ...

    def queued(self, f: WebhookFilter) -> list[Webhook]:
        """Queued webhooks, by next attempt."""
        ...

    def count(self) -> int:
        """How many webhooks are queued."""
        ...

    def retired(self, f: WebhookFilter) -> list[RetiredWebhook]:
        """Retired webhooks, most recent first."""
        ...

    def kick(self, f: WebhookFilter, now: float) -> Awaitable[int]:
        """Make matching webhooks due at now; how many."""
        ...

    def cleanup(self, now: float) -> Awaitable[int]:
        """Forget retired webhooks past their keep time; how many."""
        ...

    def remove_account(self, account: str) -> Awaitable[int]:
        """Forget everything of a removed account: its queued and retired webhooks, its change webhook
        position and its signing secrets; the number of webhooks forgotten."""
        ...

    def change_positions(self) -> dict[str, ChangePosition]:
        """Per account, how far change webhooks were queued (WebhookTransaction.change_position)."""
        ...

    def signing_secrets(self, account: str, kind: str, now: float) -> list[str]:
        """The secrets that sign the account's webhooks of this kind at now, newest first; [] for none."""
        ...

    def add_signing_secret(self, account: str, kind: str, secret: str, now: float,
                           overlap: float | None) -> Awaitable[bool]:
        """Make secret the account's signing secret for kind. overlap None: only when it has none yet
        (False, and nothing changed, when it has); otherwise the secrets in use go on signing for
        overlap seconds. Secrets past their time are forgotten."""
        ...

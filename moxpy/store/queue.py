"""Storage of the delivery queue: the records it keeps and the interface a
backend implements (SQLite: store/sqlite/queue.py).

Records cross this boundary as the dataclasses below, never as rows, with
JSON columns decoded. QueueStore holds the operations that are one
transaction each; QueueTransaction the steps available inside one
QueueStore.transaction(), for the outcomes the queue decides on: a retire
or a delay, the DSNs it causes, and the events it emits, which the webhook
queue turns into webhooks through tx.webhooks (a WebhookTransaction on the
same transaction). They commit together or not at all, and the domain code
never sees a connection.

Message bytes are the backend's business too: submit() stores them with the
entries, message() reads them back, and a backend drops a message once no
queued entry refers to it (in or after the commit that retired the last one).

Reads are synchronous and see the last committed state; writes are
coroutines that return once committed (durable).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from .sendjobs import SendJobTransaction
    from .webhooks import WebhookTransaction

T = TypeVar("T")

# The send log behind the daily limits forgets submissions older than this
# (a day counts for the limits; older rows only tell first-time recipients).
SEND_LOG_KEEP = 365 * 24 * 3600

# An idempotency key of a submission answers repeats for this long, then is forgotten.
IDEMPOTENCY_KEEP = 24 * 3600


class IdempotencyKeyUsed(Exception):
    """submit() with an idempotency key another submission of the account holds; nothing was stored."""


@dataclass
class IdempotencyKey:
    """Recorded by submit() in the commit that queues the submission, so a
    crash can never leave it queued without its key, or the other way
    round."""

    account: str
    key: str  # as the client gave it
    digest: str  # hash of the request it came with
    response: Callable[[list[int]], str]  # the answer to keep, from the new entry ids


@dataclass
class IdempotencyRecord:
    account: str
    key: str
    digest: str
    created: float  # unix time of the submission
    response: str  # the answer it got


@dataclass(frozen=True)
class Attempt:
    """One delivery attempt on an entry, or a later report about it (MsgResult in mox)."""

    start: float  # unix time the attempt started
    duration: float = 0.0  # seconds until its outcome
    success: bool = False  # delivered (or reported delivered)
    code: int = 0  # SMTP reply code; 0 when there was no reply
    enhanced_code: str = ""  # RFC 3463 status code of the reply, e.g. "5.1.1"
    error: str = ""  # what went wrong, for people; "" on success


@dataclass
class Entry:
    """One recipient of a submitted message, still to be delivered."""

    id: int  # QueueMsgID: never reused, also after the entry is retired
    account: str  # the account that submitted the message; DSNs go to it
    created: float  # unix time of submission
    sender: str  # the address the account sent as (From), for DSNs; "" for the null reverse-path
    mail_from: str  # SMTP MAIL FROM, with the FromID when tracking is on
    rcpt_to: str  # the recipient address, as submitted
    rcpt_domain: str  # recipient domain, lower case, for filters and batching
    from_id: str  # unique ID in mail_from; "" without FromID tracking
    message_id: str  # Message-ID header, with <>
    subject: str  # Subject header, for listings and webhooks
    path: str  # the backend's key of the message, shared by the entries of one submission
    size: int  # message size in bytes
    smtputf8: bool  # the message needs SMTPUTF8 (RFC 6531)
    require_tls: bool | None  # None: opportunistic TLS, True: REQUIRETLS (RFC 8689), False: TLS optional
    extra: dict[str, str] = field(default_factory=dict)  # given at submission, copied into every webhook
    next_attempt: float = 0.0  # unix time of the next attempt
    attempts: int = 0  # attempts made so far
    hold: bool = False  # an operator holds it: no attempts until released
    last_attempt: float | None = None  # unix time of the last attempt
    last_code: int = 0  # SMTP code of the last attempt
    last_enhanced_code: str = ""  # RFC 3463 code of the last attempt
    last_error: str = ""  # error of the last attempt
    # True from the moment an attempt starts until its result is recorded:
    # after a crash, such an entry may or may not have been delivered.
    delivering: bool = False
    results: list[Attempt] = field(default_factory=list)  # every attempt and report, oldest first


@dataclass
class RetiredEntry(Entry):
    """A delivered, failed, suppressed or canceled entry, kept for the
    account's KeepRetiredMessagePeriod (late DSNs still match it)."""

    retired: float = 0.0  # unix time it left the queue
    event: str = ""  # the event that retired it: delivered, failed, suppressed or canceled
    success: bool = False  # whether it was delivered
    keep_until: float = 0.0  # unix time after which it is forgotten

    @classmethod
    def of(cls, entry: Entry, **retirement) -> "RetiredEntry":
        """The retired form of entry, with the retirement fields given."""
        return cls(**{f.name: getattr(entry, f.name) for f in fields(Entry)}, **retirement)


@dataclass
class NewEntry:
    """What submit() stores for one recipient; the backend adds id, path and size."""

    account: str  # as Entry
    created: float
    sender: str
    mail_from: str
    rcpt_to: str
    rcpt_domain: str
    from_id: str
    message_id: str
    subject: str
    smtputf8: bool
    require_tls: bool | None
    extra: dict[str, str]
    next_attempt: float  # the submission time, or later for FutureRelease


@dataclass
class Suppression:
    """An address an account's mail is not delivered to."""

    id: int  # 0 until stored
    created: float  # unix time it was added
    account: str
    base_address: str  # what lookups match on (message.address.base_address)
    original_address: str  # the address as it was added
    manual: bool  # added by the account (webapi) rather than by a delivery failure
    reason: str  # why it was added, for people


@dataclass
class OutboxDSN:
    """A DSN about our own outgoing mail, waiting to be stored in the sender's Inbox."""

    id: int
    account: str  # the account that submitted the message
    rcpt_to: str  # the sender address it is for
    data: bytes  # the DSN message


@dataclass
class EntryFilter:
    """Which entries an operator command applies to; empty fields match everything."""

    ids: list[int] = field(default_factory=list)
    account: str = ""
    domain: str = ""  # recipient domain, exact, case-insensitive
    to: str = ""  # part of the recipient address, case-insensitive
    hold: bool | None = None  # queued entries only: on hold or not
    success: bool | None = None  # retired entries only: delivered or not


class QueueTransaction(Protocol):
    """Steps inside one QueueStore.transaction()."""

    @property
    def webhooks(self) -> "WebhookTransaction":
        """The webhook queue in this same transaction, for event sinks."""
        ...

    @property
    def sendjobs(self) -> "SendJobTransaction":
        """The send jobs' tables in this same transaction: a recipient is recorded in the commit that
        queues its message, and follows its entry's outcomes."""
        ...

    def entry(self, entry_id: int) -> Entry | None:
        """The queued entry with this id."""
        ...

    def entries(self, ids: Sequence[int]) -> list[Entry]:
        """The queued entries with these ids, by id."""
        ...

    def matching(self, f: EntryFilter) -> list[Entry]:
        """The queued entries the filter matches."""
        ...

    def by_from_id(self, account: str, from_id: str) -> Entry | RetiredEntry | None:
        """The account's entry with this FromID: a retired one first, else a queued one."""
        ...

    def save(self, entry: Entry | RetiredEntry) -> None:
        """Write back an entry's attempts, schedule, hold, last result and results."""
        ...

    def retire(self, entry: Entry, retired: RetiredEntry | None) -> None:
        """Take entry out of the queue, keeping retired (None: keep nothing)."""
        ...

    def recent_retired(self, account: str, rcpt_to: str, exclude_id: int, limit: int) -> list[RetiredEntry]:
        """The account's most recently retired entries to rcpt_to, newest first."""
        ...

    def suppression(self, account: str, base_address: str) -> Suppression | None: ...

    def add_suppression(self, suppression: Suppression) -> bool:
        """Add unless the account has the base address already; whether it was added."""
        ...

    def remove_suppression(self, account: str, base_address: str) -> bool:
        """Whether there was one to remove."""
        ...

    def add_dsn(self, account: str, rcpt_to: str, data: bytes) -> None:
        """Put a DSN in the outbox."""
        ...


class QueueStore(Protocol):
    """The delivery queue's storage: entries, retired entries, the suppression
    list, the send log behind the daily limits, and the DSN outbox."""

    def transaction(self, fn: Callable[[QueueTransaction], T]) -> Awaitable[T]:
        """Run fn in one transaction and return its result once committed.

        fn runs in the backend's writer, so it must not block on anything but
        tx; raising rolls everything it did back. This is how outcomes
        (retire, delay, claim an attempt, drop) are recorded with their
        events and DSNs.
        """
        ...

    # Submitting and delivering.

    def submit(self, message: bytes, entries: list[NewEntry], idempotency: IdempotencyKey | None = None,
               then: Callable[[QueueTransaction, list[int]], None] | None = None) -> Awaitable[list[int]]:
        """Store the message and its entries, and log them for the send limits; the new ids.

        With idempotency, its key and response are recorded in the same commit;
        IdempotencyKeyUsed (and nothing stored) when the account holds the key
        already. Keys older than IDEMPOTENCY_KEEP are forgotten then.
        then(tx, ids) runs in that commit too, after the entries are in:
        raising rolls the whole submission back (a send job records its
        recipient so).
        """
        ...

    def idempotency_record(self, account: str, key: str, since: float) -> IdempotencyRecord | None:
        """The account's submission under key made at or after since; None for none."""
        ...

    def message(self, entry: Entry) -> bytes:
        """The entry's message (blocking: call it off the event loop). OSError when it is gone."""
        ...

    def due(self, now: float, exclude: Sequence[int], limit: int) -> list[Entry]:
        """Entries not on hold whose next attempt has come, earliest first, leaving out exclude."""
        ...

    def next_due(self, exclude: Sequence[int]) -> float | None:
        """When the earliest entry not on hold and not in exclude is due; None for an empty queue."""
        ...

    # Crash recovery.

    def in_doubt(self, exclude: Sequence[int] = ()) -> list[Entry]:
        """Entries whose attempt started but has no recorded result, but those in exclude (attempts of this
        process still going on). Where nodes share the database, those another node is attempting are not
        in doubt, and those returned are claimed, so that one node settles each."""
        ...

    def clear_attempt(self, entry_id: int, *, uncount: bool = False, next_attempt: float | None = None
                      ) -> Awaitable[None]:
        """End an in-doubt attempt without a result; uncount: it does not count as an attempt."""
        ...

    # Operators.

    def queued(self, f: EntryFilter) -> list[Entry]:
        """Queued entries, by next attempt."""
        ...

    def count(self) -> int:
        """How many entries are queued, held ones included."""
        ...

    def retired(self, f: EntryFilter) -> list[RetiredEntry]:
        """Retired entries, most recent first."""
        ...

    def set_hold(self, f: EntryFilter, hold: bool) -> Awaitable[int]:
        """Put matching entries on hold or release them; how many changed."""
        ...

    def kick(self, f: EntryFilter, now: float) -> Awaitable[int]:
        """Make matching entries not on hold due at now; how many."""
        ...

    # The suppression list.

    def suppressions(self, account: str) -> list[Suppression]: ...

    def suppression(self, account: str, base_address: str) -> Suppression | None: ...

    # The send log.

    def sent_count(self, account: str, since: float) -> int:
        """Messages (one per recipient) the account submitted after since."""
        ...

    def recent_recipients(self, account: str, since: float) -> list[tuple[str, float]]:
        """Each recipient (lower case) the account sent to after since, with the first time in that span."""
        ...

    def sent_before(self, account: str, recipient: str, before: float) -> bool:
        """Whether the account sent to recipient (lower case) before the given time."""
        ...

    # The DSN outbox.

    def pending_dsns(self) -> list[OutboxDSN]: ...

    def remove_dsn(self, dsn_id: int) -> Awaitable[None]: ...

    # Housekeeping.

    def cleanup(self, now: float) -> Awaitable[int]:
        """Forget retired entries past their keep time, and messages of submissions
        that never committed; the number of retired entries forgotten."""
        ...

    def remove_account(self, account: str) -> Awaitable[int]:
        """Forget everything of a removed account: its queued entries (no event, no DSN) with the
        messages only they used, its retired entries, suppressions, send log, idempotency keys and
        pending DSNs; the number of queued and retired entries forgotten."""
        ...

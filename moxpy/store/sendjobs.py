"""Storage of send jobs: a message to every confirmed member of a mailing
list, queued at a time the tenant chose (moxpy/newsletter/jobs.py and
runner.py). The records and the interface a backend implements (SQLite:
store/sqlite/sendjobs.py, in mox.db beside the queue and the lists).

A job's recipients are the members of its list confirmed when it starts.
It reads them in the order of their lower-case address, a batch at a time
(members_after: those confirmed, and those that unsubscribed or bounced
since the start, which are counted but sent nothing). Each member
dealt with is a recipient row, written in the very commit that queues the
member's message (or records why none was queued); a second row for the
same member is refused in that commit, which rolls the message back. The
cursor is the last address before which every member is dealt with,
advanced after each batch: after a crash the job goes on after the cursor,
and the rows say which members after it were dealt with already, so
nobody is sent the message twice and nobody is left out.

A recipient's state follows its queue entry's outcomes (queued, delayed,
then delivered, failed, suppressed or canceled), recorded by an event sink
in the transaction of each outcome (SendJobTransaction.outcome).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from .newsletter import Member

# Job statuses.
SCHEDULED = "scheduled"  # waiting for scheduled_at
SENDING = "sending"  # queueing its messages
FINISHED = "finished"  # every member dealt with
CANCELED = "canceled"  # stopped before it finished
STATUSES = (SCHEDULED, SENDING, FINISHED, CANCELED)
DONE = (FINISHED, CANCELED)

# Recipient states: each recipient is in exactly one.
QUEUED = "queued"  # in the queue, not attempted yet (or being attempted)
DELAYED = "delayed"  # in the queue after a temporary failure
DELIVERED = "delivered"
FAILED = "failed"  # failed for good (a permanent error, the last attempt, or a message that could not be made)
SUPPRESSED = "suppressed"  # on the account's suppression list: not queued, or retired unattempted
UNSUBSCRIBED = "unsubscribed"  # no longer a confirmed member when its turn came: skipped
RECIPIENT_CANCELED = "canceled"  # queued, then dropped from the queue by a cancel
STATES = (QUEUED, DELAYED, DELIVERED, FAILED, SUPPRESSED, UNSUBSCRIBED, RECIPIENT_CANCELED)
IN_QUEUE = (QUEUED, DELAYED)

# What each queue event makes of a recipient (queue/events.py); events not here change nothing.
EVENT_STATES = {"delivered": DELIVERED, "relayed": DELIVERED, "delayed": DELAYED, "failed": FAILED,
                "suppressed": SUPPRESSED, "canceled": RECIPIENT_CANCELED}


class JobNotFound(Exception):
    """No job of that id in the account."""


class JobStopped(Exception):
    """The job is no longer sending (canceled meanwhile): nothing was recorded, and the commit is rolled back."""


class AlreadyRecorded(Exception):
    """The member has a recipient row in the job already: nothing was recorded, the commit is rolled back."""


class NotConfirmed(Exception):
    """The member is no longer confirmed (unsubscribed or bounced meanwhile): nothing was queued."""

    def __init__(self, status: str):
        super().__init__(f"member is {status or 'gone'}")
        self.status = status


@dataclass
class SendJob:
    id: int  # never reused; 0 until stored
    account: str  # the tenant
    list_id: int
    name: str
    subject: str  # templates (newsletter/templates.py)
    body_html: str
    body_text: str
    scheduled_at: float  # unix time
    status: str = SCHEDULED
    created: float = 0.0
    started_at: float = 0.0  # 0 until it started sending
    finished_at: float = 0.0  # 0 until finished or canceled
    cursor: str = ""  # lower-case address: every member up to it is dealt with
    counts: dict[str, int] = field(default_factory=dict)  # recipients per state (filled by get())


class SendJobTransaction(Protocol):
    """Steps inside a queue store transaction (QueueTransaction.sendjobs): the job tables share its commit."""

    def queued(self, job_id: int, email: str, queue_id: int) -> None:
        """Record the member's message as queued and move the cursor to it: in the commit that queues it.
        JobStopped when the job is not sending, NotConfirmed when the member is not confirmed any more,
        AlreadyRecorded when the member was dealt with already; each rolls the commit back."""
        ...

    def outcome(self, queue_id: int, event: str) -> None:
        """A queue event about an entry: its recipient (if it has one) takes the state it means."""
        ...

    def in_queue(self, job_id: int) -> list[int]:
        """The queue ids of the job's recipients still in the queue."""
        ...

    def cancel(self, account: str, job_id: int, now: float) -> SendJob:
        """Mark a job canceled; the job as it was. JobNotFound."""
        ...

    def mark_bounced(self, account: str, email: str, now: float) -> int:
        """The account's pending and confirmed members with this address become bounced; how many."""
        ...


class SendJobStore(Protocol):
    async def create(self, job: SendJob) -> int:
        """Store a new job; its id."""
        ...

    def get(self, account: str, job_id: int) -> SendJob | None:
        """The account's job with its counts; None for none (also when it is another account's)."""
        ...

    def active(self, now: float) -> list[SendJob]:
        """Jobs sending, and scheduled ones whose time has come, oldest scheduled first (without counts)."""
        ...

    def next_scheduled(self) -> float | None:
        """When the earliest scheduled job is due; None for none."""
        ...

    async def start(self, job_id: int, now: float) -> bool:
        """A scheduled job starts sending; False when it is not scheduled any more (canceled)."""
        ...

    async def skip(self, job_id: int, email: str, state: str) -> None:
        """Record a member for whom no message is queued (state: unsubscribed, suppressed or failed).
        JobStopped when the job is not sending, AlreadyRecorded."""
        ...

    def members_after(self, list_id: int, after: str, since: float, limit: int) -> list[Member]:
        """The job's next members: up to limit members of the list whose lower-case address sorts after after,
        in that order, that are confirmed, or that unsubscribed or bounced at or after since (the job's start:
        they were recipients, and are counted as skipped)."""
        ...

    def recorded(self, job_id: int, emails: list[str]) -> set[str]:
        """Which of these addresses (lower case) have a recipient row in the job."""
        ...

    async def advance(self, job_id: int, cursor: str) -> None:
        """Every member up to cursor is dealt with."""
        ...

    async def finish(self, job_id: int, now: float) -> bool:
        """A sending job has dealt with every member; False when it was not sending (canceled)."""
        ...

    async def remove_account(self, account: str) -> int:
        """Forget the jobs (and their recipients) of a removed account; how many jobs."""
        ...

    def has_jobs(self, account: str) -> bool: ...

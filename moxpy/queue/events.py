"""Outgoing delivery events: what happened to a queue entry, as the
webhook queue (and anything else registered as an event sink) hears it.

EVENTS is the one list of event names, with what each means: the webhook
types, the generated docs and the command line take it from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..store.queue import Entry

# Outgoing events (webhook.OutgoingEvent in mox), with their meaning.
EVENTS: dict[str, str] = {
    "delivered": "Message was accepted by a next-hop server; not necessarily in the recipient's mailbox yet.",
    "suppressed": "Delivery was not attempted: the recipient (or its base address) is on the account's suppression list.",
    "delayed": "A delivery attempt failed; it will be retried later.",
    "failed": "Delivery failed and will not be retried. See Suppressing.",
    "relayed": "Message was relayed into a system that does not send DSNs.",
    "expanded": "Message was accepted for delivery to multiple recipients (an alias or list), which may send more DSNs.",
    "canceled": "Message was removed from the queue, e.g. by an operator.",
    "unrecognized": "A DSN with an unknown action, or a non-DSN message, arrived for the unique FromID address of an outgoing message.",
}


@dataclass
class Event:
    """An outgoing delivery event about one queue entry."""

    event: str  # one of EVENTS
    account: str  # the account that submitted the message
    queue_msg_id: int  # the entry's id (QueueMsgID)
    from_id: str = ""  # the entry's FromID, "" without tracking
    message_id: str = ""  # Message-ID of the message, with <>
    subject: str = ""  # Subject of the message
    rcpt_to: str = ""  # the recipient the entry is for
    extra: dict[str, str] = field(default_factory=dict)  # Extra fields given at submission
    dsn: bool = False  # learned from an incoming DSN rather than our own attempt
    suppressing: bool = False  # this event added the recipient to the suppression list
    smtp_code: int = 0  # for errors: the SMTP reply code
    smtp_enhanced_code: str = ""  # for errors: the full RFC 3463 code, e.g. "5.1.1"
    error: str = ""  # what went wrong, for people

    @classmethod
    def of(cls, event: str, entry: Entry, **fields) -> "Event":
        """The event about entry; fields set the rest (codes, error, dsn, suppressing)."""
        return cls(event=event, account=entry.account, queue_msg_id=entry.id, from_id=entry.from_id,
                   message_id=entry.message_id, subject=entry.subject, rcpt_to=entry.rcpt_to,
                   extra=dict(entry.extra), **fields)

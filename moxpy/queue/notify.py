"""DSNs to our own senders about their outgoing messages.

When a queue entry fails for good (or is suppressed), and after the fifth
failed attempt as a warning, the submitting account gets a delivery status
notification in its Inbox. Entries with FromID tracking get none: the
application learns about them from webhooks instead.

Pure: builds the DSN bytes from the entry and the original message.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timezone

from ..message import dsn as dsnlib
from ..message import headers as headerlib
from ..message import status
from ..store.queue import Entry

# RFC 5321 4.5.4.1: senders should be told about delays; mox warns after the
# fifth attempt (about 4 hours with the default backoff).
DELAYED_DSN_ATTEMPT = 5


def _time(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, timezone.utc) if ts else None


def wanted(entry: Entry) -> bool:
    """Whether the sender gets DSNs about this entry: not with FromID tracking,
    and never for a message sent with the null reverse-path (RFC 5321 4.5.5)."""
    return not entry.from_id and bool(entry.sender)


def failure(entry: Entry, original: bytes, hostname: str, code: int, enhanced: str, error: str,
            remote_mta: str = "") -> bytes:
    rcpt = entry.rcpt_to
    text = (f"Delivery has failed permanently for your email to:\n\n\t{rcpt}\n\n"
            f"No further deliveries will be attempted.\n\nError during the last delivery attempt:\n\n\t{error}\n")
    return _compose(entry, original, hostname, "mail delivery failed", text, "failed",
                    status.with_class("5", enhanced), code, error, remote_mta, None)


def delayed(entry: Entry, original: bytes, hostname: str, code: int, enhanced: str, error: str,
            retry_until: float, remote_mta: str = "") -> bytes:
    rcpt = entry.rcpt_to
    text = (f"Delivery of your email to:\n\n\t{rcpt}\n\nhas been delayed. Delivery will be attempted again "
            f"until {_time(retry_until):%Y-%m-%d %H:%M} UTC; if it keeps failing you will get another notice.\n\n"
            f"Error during the last delivery attempt:\n\n\t{error}\n")
    return _compose(entry, original, hostname, "mail delivery delayed", text, "delayed",
                    status.with_class("4", enhanced), code, error, remote_mta, retry_until)


def _compose(entry: Entry, original: bytes, hostname: str, subject: str, text: str, action: str, status: str, code: int,
             error: str, remote_mta: str, retry_until: float | None) -> bytes:
    message = dsnlib.DSN(
        reporting_mta=hostname,
        arrival_date=_time(entry.created),
        sender=f"postmaster@{hostname}",
        to=entry.sender,
        subject=subject,
        message_id=f"<{secrets.token_urlsafe(16)}@{hostname}>",
        references=entry.message_id,
        text=text,
        original_headers=headerlib.split(original)[0] if original else b"",
        smtputf8=entry.smtputf8,
        recipients=[dsnlib.RecipientStatus(
            final_recipient=entry.rcpt_to,
            action=action,
            status=status,
            status_comment=error,
            remote_mta=remote_mta,
            # RFC 3464 2.3.6: only a reply from the remote is a diagnostic code.
            diagnostic_code=error if code else "",
            last_attempt=_time(entry.last_attempt),
            will_retry_until=_time(retry_until),
        )],
    )
    return dsnlib.compose(message)

"""localserve's failure simulation, decided by localparts, as in mox.

A localpart ending in "temperror" fails with 451, "permerror" with 550,
three digits 400-599 with that code, and "timeout" makes the server stall
the command for an hour (then 451), so applications can test their own
timeouts. Where the failure comes:

- a MAIL FROM address whose localpart starts with "mailfrom": at MAIL FROM;
- a recipient whose localpart starts with "rcptto": at RCPT TO;
- any other recipient with such an ending: after DATA.

At submission, a recipient localpart starting with "queue" is accepted and
fails only when the queue delivers it (to our own delivery listener).

These are pure functions over addresses; the listeners act on the Failure.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..smtp.codes import Enhanced, Reply
from ..smtp.codes import reply as smtp_reply

TEMPERROR = Reply.LOCAL_ERROR
PERMERROR = Reply.MAILBOX_UNAVAILABLE
STALL_SECONDS = 3600.0  # how long a "timeout" localpart holds its command


@dataclass(frozen=True)
class Failure:
    """A simulated failure: the reply, sent at once or after a stall."""

    reply: str
    stall: float = 0.0  # seconds to hold the command before replying


def needs_error(localpart: str) -> int | None:
    """The SMTP code the localpart asks for, None for a stall, 0 for nothing."""
    if localpart.endswith("temperror"):
        return TEMPERROR
    if localpart.endswith("permerror"):
        return PERMERROR
    if localpart.endswith("timeout"):
        return None
    tail = localpart[-3:]
    if len(tail) == 3 and tail.isdigit() and 400 <= int(tail) < 600:
        return int(tail)
    return 0


def reply(code: int) -> str:
    """The SMTP reply for a simulated failure, with an RFC 3463 X.0.0 enhanced code."""
    return smtp_reply(code, Enhanced.OTHER, f"failure with code {int(code)} due to special localpart")


def localpart(address: str) -> str:
    return address.rpartition("@")[0] if "@" in address else address


def _failure(lp: str, what: str) -> Failure | None:
    code = needs_error(lp)
    if code is None:
        # RFC 3463 4.3.0: a temporary system problem, after the client gave up or did not.
        text = f"timing out {what} due to special localpart"
        return Failure(smtp_reply(Reply.LOCAL_ERROR, Enhanced.SYSTEM_OTHER, text), STALL_SECONDS)
    return Failure(reply(code)) if code else None


def error_at(command: str, address: str) -> Failure | None:
    """The simulated failure of MAIL (address is the MAIL FROM address), RCPT or
    DATA (address is a recipient), or None."""
    lp = localpart(address)
    if command == "MAIL":
        return _failure(lp, "command") if lp.startswith("mailfrom") else None
    if command == "RCPT":
        return _failure(lp, "command") if lp.startswith("rcptto") else None
    # A recipient starting with "rcptto" failed at RCPT already; all others count here.
    return _failure(lp, "delivery")


def submission_error(address: str) -> Failure | None:
    """The simulated failure when a message for the recipient address is submitted, or None."""
    lp = localpart(address)
    if lp.startswith("queue"):
        return None
    return _failure(lp, "submission")

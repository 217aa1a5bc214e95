"""localserve's failure simulation, decided by the recipient's localpart.

A localpart ending in "temperror" fails with 451, "permerror" with 550, and
three digits 400-599 with that code. By default the error comes after
DATA; a localpart starting with "mailfrom" or "rcptto" moves it to that
command. At submission, a localpart starting with "queue" is accepted and
fails only when the queue delivers it (to our own delivery listener).
"""

from __future__ import annotations

TEMPERROR = 451  # RFC 5321 4.2.3: local error in processing
PERMERROR = 550  # mailbox unavailable


def needs_error(localpart: str) -> int:
    """The SMTP code the localpart asks for, 0 for none."""
    if localpart.endswith("temperror"):
        return TEMPERROR
    if localpart.endswith("permerror"):
        return PERMERROR
    tail = localpart[-3:]
    if len(tail) == 3 and tail.isdigit() and 400 <= int(tail) < 600:
        return int(tail)
    return 0


def reply(code: int) -> str:
    """The SMTP reply for a simulated failure, with an RFC 3463 X.0.0 enhanced code."""
    return f"{code} {code // 100}.0.0 failure with code {code} due to special localpart"


def localpart(address: str) -> str:
    return address.rpartition("@")[0] if "@" in address else address


def error_at(command: str, address: str) -> str | None:
    """The reply for a simulated failure of the delivery listener at MAIL, RCPT or DATA, or None."""
    lp = localpart(address)
    code = needs_error(lp)
    if not code:
        return None
    moved = "mailfrom" if lp.startswith("mailfrom") else "rcptto" if lp.startswith("rcptto") else ""
    if command == "MAIL":
        return reply(code) if moved == "mailfrom" else None
    if command == "RCPT":
        return reply(code) if moved == "rcptto" else None
    return reply(code) if not moved else None


def submission_error(address: str) -> str | None:
    """The reply for a simulated failure when a message for address is submitted, or None."""
    lp = localpart(address)
    if lp.startswith("queue"):
        return None
    code = needs_error(lp)
    return reply(code) if code else None

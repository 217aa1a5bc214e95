"""Replies the SMTP listeners give in more than one place, each written once.

Every reply of both roles is made with smtp.codes.reply, so its enhanced
status code (RFC 2034 3) has the class of its reply code. Replies only one
handler gives are written where they are given.
"""

from __future__ import annotations

from .. import store
from ..smtp.codes import Enhanced, Reply, reply

SENDER_OK = reply(Reply.COMPLETED, Enhanced.ADDRESS_OTHER, "sender ok")
RECIPIENT_OK = reply(Reply.COMPLETED, Enhanced.DESTINATION_VALID, "recipient ok")
# RFC 6531 3.3 and 3.6.
NEEDS_SMTPUTF8 = reply(Reply.MAILBOX_NAME_NOT_ALLOWED, Enhanced.NON_ASCII_ADDRESS,
                       "non-ASCII address requires the SMTPUTF8 parameter")
# RFC 5321 2.3.8: lines end in CRLF, in the message too.
BARE_LINE_ENDING = reply(Reply.SYNTAX_ERROR, Enhanced.SYNTAX_ERROR,
                         "bare carriage return or newline in message, lines must end in CRLF")
LOGINS_THROTTLED = reply(Reply.TEMPORARY_AUTH_FAILURE, Enhanced.SECURITY_OTHER,
                         "too many failed logins from your address, try again later")
# RFC 4616 2 and RFC 5802 5.1: we do not let one identity act for another.
FOREIGN_AUTHZID = reply(Reply.AUTH_CREDENTIALS_INVALID, Enhanced.BAD_CREDENTIALS,
                        "authorization identity must be empty or the login address")


def too_many_recipients(maximum: int) -> str:
    # RFC 5321 4.5.3.1.10: 452 for too many recipients, so the client sends the rest in another transaction.
    return reply(Reply.INSUFFICIENT_STORAGE, Enhanced.TOO_MANY_RECIPIENTS, f"at most {maximum} recipients per message")


def try_again_later(what: str) -> str:
    """A temporary failure of ours ("error storing message"): the client should retry."""
    return reply(Reply.LOCAL_ERROR, Enhanced.SYSTEM_OTHER, f"{what}, try again later")


# RFC 3463 3.4 X.3.1 "mail system full"; 452 is RFC 5321's "insufficient system storage".
STORAGE_FULL = reply(Reply.INSUFFICIENT_STORAGE, Enhanced.SYSTEM_FULL, store.STORAGE_FULL)


def invalid_base64(command: str) -> str:
    """For a SASL response that is not base64 (RFC 4954 4); command is "AUTH" or "AUTH PLAIN"."""
    return reply(Reply.PARAMETER_SYNTAX_ERROR, Enhanced.SYNTAX_ERROR, f"invalid base64 in {command}")

"""SMTP reply codes (RFC 5321 4.2) and enhanced status codes (RFC 3463), by name.

An enhanced code is written here without its class, "1.1" for X.1.1: the
class is the first digit of the reply code it goes with (RFC 3463 2,
RFC 2034 3), and reply() puts the two together, so they cannot disagree.
Parsing codes out of replies someone else sent is message/status.py's job.
"""

from __future__ import annotations

import enum


class Reply(enum.IntEnum):
    """Reply codes, RFC 5321 4.2.2 and 4.2.3 unless noted."""

    SERVICE_READY = 220
    CLOSING = 221
    AUTH_SUCCEEDED = 235  # RFC 4954 6
    COMPLETED = 250
    AUTH_CONTINUE = 334  # RFC 4954 4
    START_MAIL_INPUT = 354
    SERVICE_UNAVAILABLE = 421
    MAILBOX_BUSY = 450
    LOCAL_ERROR = 451
    INSUFFICIENT_STORAGE = 452  # also "too many recipients", RFC 5321 4.5.3.1.10
    TEMPORARY_AUTH_FAILURE = 454  # RFC 4954 6
    SYNTAX_ERROR = 500
    PARAMETER_SYNTAX_ERROR = 501
    NOT_IMPLEMENTED = 502
    BAD_SEQUENCE = 503
    PARAMETER_NOT_IMPLEMENTED = 504
    AUTH_REQUIRED = 530  # RFC 4954 6
    AUTH_CREDENTIALS_INVALID = 535  # RFC 4954 6
    ENCRYPTION_REQUIRED_FOR_AUTH = 538  # RFC 4954 6
    MAILBOX_UNAVAILABLE = 550
    USER_NOT_LOCAL = 551
    EXCEEDED_STORAGE = 552
    MAILBOX_NAME_NOT_ALLOWED = 553
    TRANSACTION_FAILED = 554
    PARAMETERS_NOT_RECOGNIZED = 555
    DOMAIN_ACCEPTS_NO_MAIL = 556  # RFC 7504 3


class Enhanced(enum.StrEnum):
    """Enhanced status codes as subject.detail, RFC 3463 3 unless noted."""

    OTHER = "0.0"  # 3.1
    # 3.2: addressing.
    ADDRESS_OTHER = "1.0"
    BAD_DESTINATION_MAILBOX = "1.1"
    BAD_DESTINATION_SYSTEM = "1.2"
    BAD_DESTINATION_SYNTAX = "1.3"
    DESTINATION_VALID = "1.5"
    BAD_SENDER_SYNTAX = "1.7"
    NULL_MX = "1.10"  # RFC 7505 4.1
    # 3.3: the mailbox.
    MAILBOX_OTHER = "2.0"
    # 3.4: the mail system.
    SYSTEM_OTHER = "3.0"
    SYSTEM_FULL = "3.1"
    MESSAGE_TOO_BIG = "3.4"
    # 3.5: network and routing.
    NETWORK_OTHER = "4.0"
    ROUTING_LOOP = "4.6"
    # 3.6: the mail delivery protocol.
    PROTOCOL_OTHER = "5.0"
    INVALID_COMMAND = "5.1"
    SYNTAX_ERROR = "5.2"
    TOO_MANY_RECIPIENTS = "5.3"
    INVALID_ARGUMENTS = "5.4"
    # 3.7: message content.
    CONTENT_OTHER = "6.0"
    NON_ASCII_ADDRESS = "6.7"  # RFC 6531 3.6
    # 3.8: security and policy.
    SECURITY_OTHER = "7.0"
    DELIVERY_NOT_AUTHORIZED = "7.1"
    BAD_CREDENTIALS = "7.8"  # RFC 4954 6
    ENCRYPTION_REQUIRED_FOR_AUTH = "7.11"  # RFC 4954 6
    REQUIRETLS_FAILED = "7.30"  # RFC 8689 5


def enhanced(code: int, status: str) -> str:
    """The full enhanced code for a reply code: enhanced(550, Enhanced.BAD_DESTINATION_MAILBOX) is "5.1.1"."""
    klass = code // 100
    if klass not in (2, 4, 5):
        # RFC 2034 3: only success and failure replies carry one.
        raise ValueError(f"reply code {code} has no enhanced status code")
    return f"{klass}.{status}"


def reply(code: int, status: str, text: str) -> str:
    """A reply line: code, enhanced code (RFC 2034 3) and text."""
    return f"{int(code)} {enhanced(code, status)} {text}"

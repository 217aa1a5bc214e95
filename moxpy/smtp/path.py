"""SMTP paths: the addresses in MAIL FROM and RCPT TO (RFC 5321 4.1.2).

Their syntax is checked by message.address.parse_address; this module
holds the rules that are about SMTP itself.
"""

from __future__ import annotations

from ..message.address import AddressError, unicode_domain


def is_null(path: str | None) -> bool:
    """RFC 5321 4.5.5: the null reverse path "<>" of bounces and other notifications."""
    return path in ("", "<>")


def needs_smtputf8(path: str) -> bool:
    """RFC 6531 3.3: non-ASCII in a path needs the SMTPUTF8 parameter (an
    internationalised domain could be sent as A-labels instead, but
    non-ASCII in the command line is what SMTPUTF8 permits)."""
    return not path.isascii()


def unicode_path(path: str) -> str:
    """The path with its domain in Unicode form, as mox reports MailFrom and RcptTo;
    unchanged when it has no valid domain."""
    local, at, domain = path.rpartition("@")
    if not at:
        return path
    try:
        return f"{local}@{unicode_domain(domain)}"
    except AddressError:
        return path

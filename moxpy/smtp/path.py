"""SMTP paths: the addresses in MAIL FROM and RCPT TO (RFC 5321 4.1.2).

Mailboxes are checked by message.address.parse_address; this module
holds the rules that are about SMTP itself, among them the strict syntax
of the MAIL and RCPT argument (split_path_argument).
"""

from __future__ import annotations

import ipaddress

from ..message.address import AddressError, parse_address, unicode_domain


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


# RFC 5321 4.5.3.1.3: a path is at most 256 octets, its angle brackets included.
MAX_PATH = 256


class PathError(ValueError):
    """A MAIL FROM or RCPT TO argument that is not RFC 5321 4.1.2 syntax; the
    text says what is wrong, in words for the client. param is set when the
    path is fine and a parameter is not."""

    def __init__(self, text: str, param: bool = False):
        super().__init__(text)
        self.param = param


def split_path_argument(arg: str, *, null_ok: bool, postmaster_ok: bool = False) -> tuple[str, list[str]]:
    """(path, parameters) of the argument after "FROM:" or "TO:", checked strictly.

    RFC 5321 4.1.2: the path is in angle brackets, a mailbox (or "<>" for the
    reverse path, or "<Postmaster>" for RCPT, 4.1.1.3) with no spaces outside
    a quoted localpart, and an address literal is a real IP address (4.1.3).
    Parameters follow after a space, each keyword at most once (RFC 5321 4.1.2's
    esmtp-param; a repeat would leave the meaning undefined).
    """
    arg = arg.lstrip(" ")
    try:
        # Octets that are not UTF-8 reach here as lone surrogates (surrogateescape); RFC 6531 3.3 allows
        # UTF-8 only, and the address checks below cannot encode them.
        arg.encode("utf-8")
    except UnicodeEncodeError:
        raise PathError("address or parameters not valid UTF-8") from None
    if not arg.startswith("<"):
        raise PathError("address must be enclosed in angle brackets")
    quoted = escaped = False
    end = -1
    for i, c in enumerate(arg[1:], 1):
        if escaped:
            escaped = False
        elif quoted and c == "\\":
            escaped = True
        elif c == '"':
            quoted = not quoted
        elif c == ">" and not quoted:
            end = i
            break
    if end < 0:
        raise PathError("missing closing angle bracket after address")
    path, rest = arg[1:end], arg[end + 1:]
    if len(arg[: end + 1].encode("utf-8")) > MAX_PATH:
        raise PathError(f"path longer than {MAX_PATH} octets")
    if rest and not rest.startswith(" "):
        raise PathError("expected space between address and parameters")
    if not path:
        if not null_ok:
            raise PathError("empty address not allowed here")
    elif not (postmaster_ok and path.lower() == "postmaster"):
        if path.startswith("@"):
            # RFC 5321 4.1.2 and appendix C: a source route, to be ignored.
            _route, colon, path = path.partition(":")
            if not colon:
                raise PathError("source route without colon")
        try:
            _check_mailbox(path)
        except AddressError as e:
            raise PathError(str(e)) from None
    params: list[str] = []
    seen: set[str] = set()
    for param in rest.split(" "):
        if not param:
            continue
        key, eq, value = param.partition("=")
        # esmtp-keyword: a letter or digit, then letters, digits and hyphens.
        if not key[:1].isalnum() or not all(c.isascii() and (c.isalnum() or c == "-") for c in key) or (eq and not value):
            raise PathError(f"malformed parameter {param!r}", param=True)
        if key.upper() in seen:
            raise PathError(f"duplicate parameter {key.upper()}", param=True)
        seen.add(key.upper())
        params.append(param)
    return path, params


def _check_mailbox(path: str) -> None:
    """A mailbox of RFC 5321 4.1.2, AddressError if not."""
    local, at, domain = path.rpartition("@")
    if not at:
        raise AddressError("address needs a localpart and a domain, separated by @")
    if not local.startswith('"') and (" " in path or "\t" in path):
        raise AddressError("spaces are not allowed in an address")
    if " " in domain or "\t" in domain:
        raise AddressError("spaces are not allowed in a domain")
    if domain.startswith("["):
        _check_address_literal(domain)
        parse_address(f"{local}@example.com")  # the localpart, with a stand-in domain
        return
    parse_address(path)


def _check_address_literal(literal: str) -> None:
    """RFC 5321 4.1.3: [IPv4] or [IPv6:...], each a valid IP address."""
    if not literal.endswith("]"):
        raise AddressError(f"unterminated address literal {literal!r}")
    inner = literal[1:-1]
    try:
        if inner[:5].lower() == "ipv6:":
            ipaddress.IPv6Address(inner[5:])
        else:
            ipaddress.IPv4Address(inner)
    except ValueError:
        raise AddressError(f"invalid ip address in address literal {literal!r}") from None

"""Mailbox names as IMAP clients see them: modified UTF-7 on the wire
(RFC 3501 5.1.3, codec from twisted.mail), INBOX for the inbox (5.1), and
LIST patterns with * and % (6.3.8).

The store's own rules for names (what a mailbox may be called) are in
store.mailboxname. Pure functions; no sockets, no store.
"""

from __future__ import annotations

from collections.abc import Callable

import twisted.mail.imap4  # noqa: F401  registers the "imap4-utf-7" codec

from . import syntax

DELIMITER = "/"  # the hierarchy delimiter, as LIST and NAMESPACE report it


class MailboxNameError(ValueError):
    """A mailbox name that cannot be decoded: no mailbox has it, so commands answer NO (or LIST nothing)."""


def decode(raw: bytes, utf8: bool = False) -> str:
    """A mailbox name (or LIST pattern) from the wire: modified UTF-7 (RFC 3501 5.1.3), or UTF-8 as it is for
    IMAP4rev2 (RFC 9051 5.1), where "&" is just a character."""
    if utf8 or not raw.isascii():
        # Clients that send raw UTF-8 names mean them literally.
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise MailboxNameError("mailbox name is neither modified UTF-7 nor UTF-8") from None
    # The codec accepts more than the standard allows ("&" alone, unterminated or needless shifts);
    # modified UTF-7 has one encoding per name, so a valid name is the encoding of what it decodes to.
    try:
        name = raw.decode("imap4-utf-7")
        valid = name.encode("imap4-utf-7") == raw
        name.encode("utf-8")  # no lone UTF-16 surrogates
    except (UnicodeError, ValueError):
        valid = False
    if not valid:
        raise MailboxNameError("mailbox name is not valid modified UTF-7 (RFC 3501 5.1.3)")
    return name


def encode(name: str, utf8: bool = False) -> bytes:
    """A mailbox name for a response (an astring), in modified UTF-7, or in UTF-8 for IMAP4rev2 (RFC 9051 5.1),
    whose quoted strings may hold UTF-8."""
    if utf8:
        value = name.encode("utf-8")
        # Names have no control characters (store.mailboxname).
        return syntax.astring(value) if name.isascii() else syntax.quoted(value)
    return syntax.astring(name.encode("imap4-utf-7"))


def display(name: str) -> str:
    """The name clients see for a stored mailbox name.

    RFC 3501 5.1: the inbox is INBOX to clients, also as the parent of other mailboxes.
    """
    return "INBOX" + name[5:] if name == "Inbox" or name.startswith("Inbox/") else name


def list_matcher(pattern: str) -> Callable[[str], bool]:
    """A LIST pattern as a test of display names (RFC 3501 6.3.8): * matches anything, % anything but the
    delimiter.

    Matching follows every way through the pattern at once (the positions it
    may have reached), so it takes time proportional to the lengths of name
    and pattern multiplied: no pattern, however many wildcards it has, can
    make it backtrack.
    """
    first, sep, rest = pattern.partition(DELIMITER)
    if first.lower() == "inbox":
        pattern = "INBOX" + sep + rest  # INBOX is case-insensitive, also as a parent
    # Runs of wildcards match what their widest member matches: "*%*" is "*".
    tokens: list[str] = []
    for c in pattern:
        if c in "*%" and tokens and tokens[-1] in "*%":
            tokens[-1] = "*" if "*" in (c, tokens[-1]) else "%"
        else:
            tokens.append(c)
    end = len(tokens)

    def closure(positions: set[int]) -> set[int]:
        # A wildcard may match nothing: reaching it also reaches what follows it.
        result = set(positions)
        for i in sorted(positions):
            while i < end and tokens[i] in "*%":
                i += 1
                result.add(i)
        return result

    start = closure({0})

    def matches(name: str) -> bool:
        positions = start
        for c in name:
            following = set()
            for i in positions:
                if i == end:
                    continue
                token = tokens[i]
                if token == "*" or (token == "%" and c != DELIMITER):
                    following.add(i)
                elif token == c:
                    following.add(i + 1)
            if not following:
                return False
            positions = closure(following)
        return end in positions

    return matches

"""Mailbox names: which are allowed, and the one spelling the store keeps.

Names use "/" as hierarchy separator. The inbox is kept as "Inbox"; INBOX
in any case names it, also as the parent of other mailboxes (RFC 3501
5.1). Other names are case-sensitive.
"""

from __future__ import annotations

from .accounts import MailboxError

INBOX = "Inbox"


def check(name: str) -> str:
    """A mailbox name checked and normalised (INBOX in any case is "Inbox"); MailboxError when not allowed."""
    if not name or name.startswith("/") or name.endswith("/") or "//" in name:
        raise MailboxError("invalid mailbox name: empty, or with a leading, trailing or doubled /")
    if any(c in "%*" or ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        # RFC 3501 5.1: * and % are LIST wildcards; control characters are never part of a name.
        raise MailboxError("invalid mailbox name: it contains a wildcard (* or %) or a control character")
    if any(elem in (".", "..") for elem in name.split("/")):
        # Names must not look like relative paths: "." and ".." are no mailbox's name, at any level.
        raise MailboxError('invalid mailbox name: "." or ".." as a hierarchy level')
    first, sep, rest = name.partition("/")
    return INBOX + sep + rest if first.lower() == "inbox" else name


def parents(name: str) -> list[str]:
    """The names above a (checked) name, top first: "a/b/c" has "a" and "a/b"."""
    elems = name.split("/")
    return ["/".join(elems[:i]) for i in range(1, len(elems))]


def is_below(name: str, ancestor: str) -> bool:
    """Whether name is a child, grandchild, ... of ancestor."""
    return name.startswith(ancestor + "/")

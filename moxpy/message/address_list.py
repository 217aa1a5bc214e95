"""Where the groups are in an address list header (RFC 5322 3.4).

email.utils.getaddresses parses mailboxes well, names in the comment form
(user@example.org (Real Name)) included, and keeps encoded words as they
are, as IMAP's ENVELOPE wants them; but it flattens group syntax
("name: member, member;"), which ENVELOPE must show (RFC 3501 7.4.2). This
module only finds where each group starts and ends; the mailboxes in and
between groups are left to getaddresses.

Pure functions over str; never raises on malformed input.
"""

from __future__ import annotations

import email.utils


def split_groups(value: str) -> list[tuple[str | None, str]]:
    """The parts of an address list in order: (None, mailboxes outside any group) and (group name, its members).

    A group without its closing ";" runs to the end of the value.
    """
    out: list[tuple[str | None, str]] = []
    start = 0  # where the text not yet handed out begins
    item_start = 0  # where the current list item begins: a group's name starts here
    group: str | None = None
    members_start = 0
    quoted = False
    comment = 0  # comment nesting depth
    angle = False  # inside <...>, where a source route may hold ":"
    i = 0
    n = len(value)
    while i < n:
        c = value[i]
        if (quoted or comment) and c == "\\":
            i += 2  # quoted-pair
            continue
        if quoted:
            quoted = c != '"'
        elif comment:
            comment += {"(": 1, ")": -1}.get(c, 0)
        elif c == '"':
            quoted = True
        elif c == "(":
            comment = 1
        elif angle:
            angle = c != ">"
        elif c == "<":
            angle = True
        elif c == "," and group is None:
            item_start = i + 1
        elif c == ":" and group is None:
            if value[start:item_start].strip(" \t\r\n,"):
                out.append((None, value[start:item_start]))
            group = _phrase(value[item_start:i])
            members_start = i + 1
        elif c == ";" and group is not None:
            out.append((group, value[members_start:i]))
            group = None
            start = item_start = i + 1
        i += 1
    if group is not None:
        out.append((group, value[members_start:]))
    elif value[start:].strip(" \t\r\n,"):
        out.append((None, value[start:]))
    return out


def _phrase(text: str) -> str:
    """A group's display name: unfolded, a quoted string without its quotes."""
    text = " ".join(text.split())
    if len(text) >= 2 and text.startswith('"') and text.endswith('"'):
        return email.utils.unquote(text)
    return text


def mailboxes(text: str) -> list[tuple[str, str]]:
    """(display name, address) of the mailboxes in a list without groups; empty entries skipped."""
    try:
        pairs = email.utils.getaddresses([text])
    except Exception:
        return []
    return [(name, address) for name, address in pairs if name or address]

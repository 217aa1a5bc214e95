"""Extended SEARCH: result options and the ESEARCH response (RFC 4731),
and the saved search result with its "$" reference (SEARCHRES, RFC 5182).

Pure protocol code: the SEARCH command (selected.py) reads the options
here, searches, and renders its answer with response(). The saved result
is kept as UIDs in the session's view of the selected mailbox, so it
goes with it: SELECT, EXAMINE, CLOSE and UNSELECT leave none (RFC 5182
2.1), and an expunged message drops out of it, since only UIDs still in
the view are used.
"""

from __future__ import annotations

from . import syntax

# RFC 4731 3.1 and RFC 5182 2: the result options.
OPTIONS = (b"MIN", b"MAX", b"COUNT", b"ALL", b"SAVE")


class SavedResult:
    """A sequence set given as "$" (RFC 5182 2.1): the saved search result."""

    def __repr__(self) -> str:
        return "$"


SAVED = SavedResult()


def parse_return(tokens: list) -> tuple[frozenset[bytes] | None, list]:
    """The RETURN options at the start of SEARCH's arguments (after the command name) and the keys after
    them; None when the command has no RETURN, as in IMAP4rev1 without ESEARCH."""
    if not tokens or isinstance(tokens[0], list) or bytes(tokens[0]).upper() != b"RETURN":
        return None, tokens
    if len(tokens) < 2 or not isinstance(tokens[1], list):
        raise syntax.CommandSyntaxError("RETURN needs a parenthesised list of options, like RETURN (MIN COUNT)")
    options = set()
    for token in tokens[1]:
        word = b"" if isinstance(token, list) else bytes(token).upper()
        if word not in OPTIONS:
            raise syntax.CommandSyntaxError("unknown RETURN option, expected MIN, MAX, COUNT, ALL or SAVE")
        options.add(word)
    # RFC 4731 3.1: RETURN () is RETURN (ALL).
    return frozenset(options or {b"ALL"}), tokens[2:]


def to_save(found: list[int], options: frozenset[bytes]) -> list[int]:
    """What SAVE keeps of the matches (UIDs, ascending): RFC 5182 2.4, with MIN and/or MAX (and no ALL or
    COUNT) only those, else all."""
    if not found or not options & {b"MIN", b"MAX"} or options & {b"ALL", b"COUNT"}:
        return list(found)
    kept = {found[0]} if b"MIN" in options else set()
    if b"MAX" in options:
        kept.add(found[-1])
    return sorted(kept)


def response(tag: bytes, found: list[int], options: frozenset[bytes], by_uid: bool) -> bytes | None:
    """The ESEARCH line (RFC 4731 3.1) for the matches (sequence numbers or UIDs, ascending), or None when
    only SAVE was asked (RFC 5182 2.4: no untagged response then)."""
    if options == {b"SAVE"}:
        return None
    out = [b"* ESEARCH (TAG " + syntax.quoted(tag) + b")"]
    if by_uid:
        out.append(b"UID")
    # MIN, MAX and ALL are left out when nothing matched; COUNT is then 0.
    if b"MIN" in options and found:
        out.append(b"MIN %d" % found[0])
    if b"MAX" in options and found:
        out.append(b"MAX %d" % found[-1])
    if b"COUNT" in options:
        out.append(b"COUNT %d" % len(found))
    if b"ALL" in options and found:
        out.append(b"ALL " + syntax.format_uid_set(found))
    return b" ".join(out)

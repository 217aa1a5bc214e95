"""LIST with selection and return options (LIST-EXTENDED, RFC 5258),
STATUS in LIST's answer (LIST-STATUS, RFC 5819), CHILDREN attributes
(RFC 3348) and special-use selection (RFC 6154 5.1).

    LIST [(select-options)] reference (pattern | (pattern ...)) [RETURN (return-options)]

Selection: SUBSCRIBED, REMOTE (we have no remote mailboxes, so it changes
nothing), RECURSIVEMATCH (with another selection option: also the matching
parents of selected mailboxes, with CHILDINFO), SPECIAL-USE. Return:
CHILDREN (always sent), SUBSCRIBED, SPECIAL-USE (always sent), STATUS
(items). The command (mailboxes.list_) hands its tokens here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import names, syntax
from .session import Session

SELECT_OPTIONS = (b"SUBSCRIBED", b"REMOTE", b"RECURSIVEMATCH", b"SPECIAL-USE")
RETURN_OPTIONS = (b"CHILDREN", b"SUBSCRIBED", b"SPECIAL-USE", b"STATUS")


@dataclass
class ListCommand:
    """A LIST command's arguments, read from its tokens."""

    reference: bytes
    patterns: list[bytes]
    extended: bool  # selection or return options, or several patterns: answered by RFC 5258's rules
    select: set[bytes] = field(default_factory=set)
    returns: set[bytes] = field(default_factory=set)
    status: list[bytes] = field(default_factory=list)  # RETURN (STATUS (items)), upper case


def _word(token, what: str) -> bytes:
    if isinstance(token, list):
        raise syntax.CommandSyntaxError(f"{what} expected, got a list")
    return bytes(token)


def parse(tokens: list, status_items) -> ListCommand:
    """Read LIST's tokens (syntax.tokenize); status_items checks STATUS's items (a list of tokens), giving them
    in upper case."""
    select: set[bytes] = set()
    extended = False
    if tokens and isinstance(tokens[0], list):
        extended = True
        for token in tokens[0]:
            word = _word(token, "selection option").upper()
            if word not in SELECT_OPTIONS:
                raise syntax.CommandSyntaxError("unknown LIST selection option, expected SUBSCRIBED, REMOTE, "
                                                "RECURSIVEMATCH or SPECIAL-USE")
            select.add(word)
        # RFC 5258 3.1: RECURSIVEMATCH only refines another option (REMOTE does not select anything).
        if b"RECURSIVEMATCH" in select and not select & {b"SUBSCRIBED", b"SPECIAL-USE"}:
            raise syntax.CommandSyntaxError("RECURSIVEMATCH needs another selection option, like SUBSCRIBED")
        tokens = tokens[1:]
    if len(tokens) < 2:
        raise syntax.CommandSyntaxError("missing argument, LIST needs a reference and a mailbox pattern")
    reference = _word(tokens[0], "reference name")
    if isinstance(tokens[1], list):
        extended = True
        patterns = [_word(t, "mailbox pattern") for t in tokens[1]]
        if not patterns:
            raise syntax.CommandSyntaxError("empty list of mailbox patterns")
    else:
        patterns = [bytes(tokens[1])]
    command = ListCommand(reference, patterns, extended, select)
    rest = tokens[2:]
    if not rest:
        return command
    if (len(rest) != 2 or isinstance(rest[0], list) or bytes(rest[0]).upper() != b"RETURN"
            or not isinstance(rest[1], list)):
        raise syntax.CommandSyntaxError("expected RETURN (options) after the mailbox pattern")
    command.extended = True
    options = rest[1]
    i = 0
    while i < len(options):
        word = _word(options[i], "return option").upper()
        if word not in RETURN_OPTIONS:
            raise syntax.CommandSyntaxError("unknown LIST return option, expected CHILDREN, SUBSCRIBED, "
                                            "SPECIAL-USE or STATUS")
        if word == b"STATUS":
            # RFC 5819 2: STATUS and its items, as for the STATUS command.
            if i + 1 >= len(options) or not isinstance(options[i + 1], list):
                raise syntax.CommandSyntaxError("RETURN STATUS needs a list of status items")
            command.status = status_items(options[i + 1])
            i += 1
        command.returns.add(word)
        i += 1
    return command


def answer(session: Session, command: ListCommand, status_line, utf8: bool) -> list[bytes]:
    """The untagged responses of an extended LIST: LIST lines, each followed by STATUS when asked for;
    status_line(box, items) renders a STATUS response; utf8: names in UTF-8 (IMAP4rev2)."""
    try:
        reference = names.decode(command.reference, utf8)
        patterns = [names.decode(p, utf8) for p in command.patterns]
    except names.MailboxNameError:
        return []  # no mailbox has such a name
    if all(not p for p in patterns):
        # RFC 3501 6.3.8: an empty pattern asks for the hierarchy delimiter.
        return [b'* LIST (\\Noselect) "/" ""']
    matchers = [names.list_matcher(reference + p) for p in patterns if p]

    def matches(display: str) -> bool:
        return any(m(display) for m in matchers)

    boxes = session.account.mailboxes()
    by_name = {box.name: box for box in boxes}

    def selected(box) -> bool:
        if b"SUBSCRIBED" in command.select and not box.subscribed:
            return False
        if b"SPECIAL-USE" in command.select and not box.special_use:
            return False
        return True

    def descendants(name: str) -> list[str]:
        return [n for n in by_name if n.startswith(name + "/")]

    lines = []
    # The store keeps every parent of a mailbox (creating them with it), and subscriptions only of mailboxes, so
    # no name is \NonExistent (RFC 5258 3.4) here.
    for name in sorted(by_name):
        display = names.display(name)
        if not matches(display):
            continue
        box = by_name[name]
        kids = descendants(name)
        # RFC 5258 3.5: with RECURSIVEMATCH, a matching parent of a selected mailbox is listed with CHILDINFO.
        childinfo = b"RECURSIVEMATCH" in command.select and b"SUBSCRIBED" in command.select and any(
            by_name[k].subscribed for k in kids)
        if not selected(box) and not childinfo:
            continue
        attrs = [b"\\HasChildren" if kids else b"\\HasNoChildren"]
        if box.subscribed and (b"SUBSCRIBED" in command.select or b"SUBSCRIBED" in command.returns):
            attrs.append(b"\\Subscribed")
        if box.special_use:
            attrs.append(box.special_use.encode())
        line = b"* LIST (" + b" ".join(attrs) + b') "/" ' + names.encode(display, utf8)
        if childinfo:
            line += b' ("CHILDINFO" ("SUBSCRIBED"))'
        lines.append(line)
        # RFC 5819 2: STATUS after the mailbox's LIST, for mailboxes that can be selected.
        if command.status and selected(box):
            lines.append(status_line(box, command.status))
    return lines

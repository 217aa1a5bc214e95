"""CONDSTORE and QRESYNC (RFC 7162): modification sequences in FETCH,
STORE, SEARCH, SELECT and STATUS, and quick resynchronisation with
VANISHED responses.

A message's MODSEQ is the store's: the account-wide number of its last
change (store.Account.highest_modseq, changed_since, expunged_since). The
session keeps which of the two extensions the client enabled
(session.enabled): CONDSTORE by any CONDSTORE-enabling command (RFC 7162
3.1), QRESYNC only by ENABLE (3.2.3), which enables CONDSTORE too.

Argument readers here follow arguments.py (they return the value and the
rest of the line); the rest works on the session's selected view. Bad
syntax raises syntax.CommandSyntaxError, answered with BAD.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from ..store import search as criteria
from . import arguments, syntax
from . import fetch as fetchlib
from .syntax import CommandSyntaxError

CONDSTORE = b"CONDSTORE"
QRESYNC = b"QRESYNC"

# RFC 7162 7: mod-sequence-value is a positive unsigned 63-bit integer (mod-sequence-valzer may be 0).
MAX_MODSEQ = 2**63 - 1

# RFC 7162 3.2.10 leaves the length of a VANISHED line open; clients are asked to take 8 KiB lines.
VANISHED_LINE = 4000


# Enabling.


def condstore(session) -> bool:
    return CONDSTORE in session.enabled


def qresync(session) -> bool:
    return QRESYNC in session.enabled


def enable_condstore(session) -> None:
    """A CONDSTORE-enabling command (RFC 7162 3.1): from now on FETCH responses carry MODSEQ. When a
    mailbox is selected, the client learns its HIGHESTMODSEQ at once (3.1.2.1)."""
    if CONDSTORE in session.enabled:
        return
    session.enabled.add(CONDSTORE)
    view = session.selected
    if view is not None:
        session.write([b"* OK [HIGHESTMODSEQ %d] CONDSTORE enabled" % session.account.highest_modseq(view.mailbox_id)])


def enable(session, names: list[bytes]) -> list[bytes]:
    """ENABLE (RFC 5161) of these capability names; the ones enabled, for the ENABLED response. Names
    that need no enabling, or are unknown, are left out (RFC 5161 3.1)."""
    out: list[bytes] = []
    for name in names:
        name = name.upper()
        if name not in (CONDSTORE, QRESYNC) or name in out:
            continue
        if name == QRESYNC:
            session.enabled.add(QRESYNC)
            out.append(QRESYNC)
            # RFC 7162 3.2.3: enabling QRESYNC enables CONDSTORE too; said when it was not on yet, as mox does.
            if CONDSTORE in session.enabled or CONDSTORE in out:
                continue
            name = CONDSTORE
        enable_condstore(session)
        out.append(CONDSTORE)
    return out


# Numbers and sets.


def modseq_value(token, what: str, zero: bool = False) -> int:
    """A mod-sequence-value (positive) or, with zero, a mod-sequence-valzer (RFC 7162 7)."""
    if isinstance(token, list) or not bytes(token).isdigit():
        raise CommandSyntaxError(f"{what} needs a modseq, a number of {0 if zero else 1} or more")
    if len(token) > 19 or int(token) > MAX_MODSEQ:
        raise CommandSyntaxError(f"{what}: modseq too large, at most {MAX_MODSEQ}")
    value = int(token)
    if value == 0 and not zero:
        raise CommandSyntaxError(f"{what} needs a modseq of 1 or more")
    return value


def _uid_set(token, what: str) -> list[tuple[int, int]]:
    """A sequence set without "*" (RFC 7162 known-uids, known-sequence-set) as inclusive ranges."""
    if isinstance(token, list):
        raise CommandSyntaxError(f"{what}: expected a set of numbers like 1:5,9")
    ranges = syntax.parse_sequence_set(bytes(token))
    if any(a is None or b is None for a, b in ranges):
        raise CommandSyntaxError(f"{what}: \"*\" is not allowed")
    return _normal(ranges)


def _normal(ranges) -> list[tuple[int, int]]:
    """Ranges sorted, with overlapping and adjacent ones merged."""
    out: list[list[int]] = []
    for a, b in sorted((min(a, b), max(a, b)) for a, b in ranges):
        if out and a <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def _in(ranges: list[tuple[int, int]], uid: int) -> bool:
    """Whether uid is in normalised ranges."""
    i = bisect.bisect_right(ranges, (uid, MAX_MODSEQ)) - 1
    return i >= 0 and ranges[i][0] <= uid <= ranges[i][1]


def _numbers(ranges: list[tuple[int, int]], what: str, limit: int = 100_000) -> list[int]:
    if sum(b - a + 1 for a, b in ranges) > limit:
        raise CommandSyntaxError(f"{what}: too many numbers, at most {limit}")
    return [n for a, b in ranges for n in range(a, b + 1)]


def missing(ranges: list[tuple[int, int]], present: list[int], low: int, high: int) -> list[tuple[int, int]]:
    """The parts of normalised ranges, within [low, high], holding none of the sorted UIDs present."""
    out = []
    for a, b in ranges:
        a, b = max(a, low), min(b, high)
        if a > b:
            continue
        i = bisect.bisect_left(present, a)
        while a <= b:
            if i < len(present) and present[i] <= b:
                if present[i] > a:
                    out.append((a, present[i] - 1))
                a = present[i] + 1
                i += 1
            else:
                out.append((a, b))
                break
    return out


def ranges_of(uids: list[int]) -> list[tuple[int, int]]:
    """UIDs as normalised ranges."""
    return _normal((u, u) for u in uids)


def vanished(ranges: list[tuple[int, int]], earlier: bool) -> list[bytes]:
    """VANISHED responses (RFC 7162 3.2.10) of UID ranges, split into lines of moderate length."""
    head = b"* VANISHED (EARLIER) " if earlier else b"* VANISHED "
    lines, parts, size = [], [], 0
    for a, b in ranges:
        part = b"%d" % a if a == b else b"%d:%d" % (a, b)
        if parts and size + len(part) > VANISHED_LINE:
            lines.append(head + b",".join(parts))
            parts, size = [], 0
        parts.append(part)
        size += len(part) + 1
    if parts:
        lines.append(head + b",".join(parts))
    return lines


# SELECT and EXAMINE parameters (RFC 7162 3.1, 3.2.5).


@dataclass
class QResync:
    uidvalidity: int
    modseq: int
    known_uids: list[tuple[int, int]] | None = None
    seq_match: tuple[list[int], list[int]] | None = None  # known sequence numbers and their UIDs, in order


@dataclass
class SelectParameters:
    condstore: bool = False
    qresync: QResync | None = None


def select_parameters(line: bytes) -> arguments.Result:
    """The optional parameters after SELECT's or EXAMINE's mailbox (RFC 4466 2.1): (CONDSTORE), (QRESYNC (...))."""
    params = SelectParameters()
    if not line.strip():
        return params, b""
    tokens, pending = syntax.tokenize(line)
    if pending is not None or len(tokens) != 1 or not isinstance(tokens[0], list):
        raise CommandSyntaxError("expected select parameters in parentheses, like (CONDSTORE)")
    items = tokens[0]
    i = 0
    while i < len(items):
        word = items[i]
        name = b"" if isinstance(word, list) else bytes(word).upper()
        i += 1
        if name == CONDSTORE and not params.condstore:
            params.condstore = True
        elif name == QRESYNC and params.qresync is None:
            if i >= len(items) or not isinstance(items[i], list):
                raise CommandSyntaxError("QRESYNC needs (uidvalidity modseq [known-uids [seq-match-data]])")
            params.qresync = _qresync(items[i])
            i += 1
        elif name in (CONDSTORE, QRESYNC):
            raise CommandSyntaxError(f"duplicate select parameter {name.decode()}")
        else:
            raise CommandSyntaxError("unknown select parameter, expected CONDSTORE or QRESYNC")
    return params, b""


def _qresync(values: list) -> QResync:
    # RFC 7162 7: "(" uidvalidity SP mod-sequence-value [SP known-uids] [SP seq-match-data] ")"
    if len(values) < 2 or len(values) > 4:
        raise CommandSyntaxError("QRESYNC needs (uidvalidity modseq [known-uids [seq-match-data]])")
    token = values[0]
    if isinstance(token, list) or not bytes(token).isdigit() or not 0 < int(token) <= syntax.MAX_NZ_NUMBER:
        raise CommandSyntaxError("QRESYNC: uidvalidity must be a number from 1 to 4294967295")
    result = QResync(int(token), modseq_value(values[1], "QRESYNC"))
    rest = values[2:]
    if rest and not isinstance(rest[0], list):
        result.known_uids = _uid_set(rest[0], "QRESYNC known UIDs")
        rest = rest[1:]
    if rest:
        match = rest[0]
        if len(rest) > 1 or not isinstance(match, list) or len(match) != 2:
            raise CommandSyntaxError("QRESYNC: seq-match-data is (known-sequence-set known-uid-set)")
        seqs = _numbers(_uid_set(match[0], "QRESYNC known sequence set"), "QRESYNC known sequence set")
        uids = _numbers(_uid_set(match[1], "QRESYNC known UID set"), "QRESYNC known UID set")
        if len(seqs) != len(uids):
            raise CommandSyntaxError("QRESYNC: the known sequence set and UID set must have as many numbers")
        result.seq_match = (seqs, uids)
    return result


def select_lines(session, view, box, params: SelectParameters, highest: int) -> list[bytes]:
    """SELECT's and EXAMINE's responses of CONDSTORE and QRESYNC: HIGHESTMODSEQ (RFC 7162 3.1.2.1, sent
    always, since every message has a modseq), then with a QRESYNC parameter of the mailbox's
    UIDVALIDITY, what changed since the client's modseq (3.2.5.1)."""
    lines = [b"* OK [HIGHESTMODSEQ %d] highest modseq" % highest]
    qr = params.qresync
    if qr is None or qr.uidvalidity != box.uidvalidity:
        return lines  # RFC 7162 3.2.5: another UIDVALIDITY, the client's cache is stale: nothing to add
    known = qr.known_uids
    # RFC 7162 3.2.5.2: where the client's sequence numbers still name the same UIDs, no message below
    # was expunged since it last synchronised.
    floor = 1
    if qr.seq_match:
        for seq, uid in zip(*qr.seq_match):
            if seq > len(view.uids) or view.uids[seq - 1] != uid:
                break
            floor = uid + 1
    account = session.account
    expunged = account.expunged_since(view.mailbox_id, qr.modseq)
    if expunged is None:
        # The change log no longer goes back to the client's modseq (ChangesRetention): every known UID
        # that is not there now may have been expunged (RFC 7162 3.2.5.2), as mox answers too.
        gone = missing(known or [(1, box.uidnext - 1)], view.uids, floor, box.uidnext - 1)
    else:
        gone = ranges_of([u for u in expunged if u >= floor and u < box.uidnext and not view.seq(u)
                           and (known is None or _in(known, u))])
    lines += vanished(gone, earlier=True)
    for message in account.changed_since(view.mailbox_id, qr.modseq):
        seq = view.seq(message.uid)
        if seq and (known is None or _in(known, message.uid)):
            lines.append(_fetch_line(session, view, seq, message))
    return lines


def _fetch_line(session, view, seq: int, message) -> bytes:
    flags = fetchlib.flags(message.flags, view.is_recent(message.uid))
    return b"* %d FETCH (UID %d %s MODSEQ (%d))" % (seq, message.uid, flags, message.modseq)


# FETCH (RFC 7162 3.1.4, 3.2.6).


@dataclass
class FetchModifiers:
    changed_since: int | None = None
    vanished: bool = False


def fetch_items(line: bytes) -> arguments.Result:
    """FETCH's items as arguments.fetch_items reads them, with MODSEQ among them, and the fetch modifiers
    after them (RFC 4466 2.4) as a last FetchModifiers item (see split_fetch)."""
    try:
        tokens, pending = syntax.tokenize(line)
    except CommandSyntaxError:
        return arguments.fetch_items(line)
    if pending is not None or not tokens:
        return arguments.fetch_items(line)
    first, rest = tokens[0], tokens[1:]
    words = first if isinstance(first, list) else [first]
    if any(isinstance(w, list) or isinstance(w, syntax.String) for w in words):
        return arguments.fetch_items(line)
    want_modseq = any(bytes(w).upper() == b"MODSEQ" for w in words)
    others = [bytes(w) for w in words if bytes(w).upper() != b"MODSEQ"]
    if not others:
        if not want_modseq:
            raise CommandSyntaxError("no fetch attributes given")
        items: list = []
    else:
        text = b"(" + b" ".join(others) + b")" if isinstance(first, list) else others[0]
        items, _ = arguments.fetch_items(text)
    if want_modseq:
        items.append("MODSEQ")
    if rest:
        if len(rest) > 1 or not isinstance(rest[0], list):
            raise CommandSyntaxError("expected fetch modifiers in parentheses after the items, like (CHANGEDSINCE 5)")
        items.append(_fetch_modifiers(rest[0]))
    return items, b""


def _fetch_modifiers(tokens: list) -> FetchModifiers:
    mods = FetchModifiers()
    seen: set[bytes] = set()
    i = 0
    if not tokens:
        raise CommandSyntaxError("empty fetch modifiers")
    while i < len(tokens):
        word = b"" if isinstance(tokens[i], list) else bytes(tokens[i]).upper()
        i += 1
        if word in seen:
            raise CommandSyntaxError(f"duplicate fetch modifier {word.decode()}")
        seen.add(word)
        if word == b"CHANGEDSINCE":
            if i >= len(tokens):
                raise CommandSyntaxError("CHANGEDSINCE needs a modseq, a number of 1 or more")
            mods.changed_since = modseq_value(tokens[i], "CHANGEDSINCE")
            i += 1
        elif word == b"VANISHED":
            mods.vanished = True
        else:
            raise CommandSyntaxError("unknown fetch modifier, expected CHANGEDSINCE or VANISHED")
    return mods


def split_fetch(session, items: list, by_uid: bool) -> tuple[list, FetchModifiers | None]:
    """FETCH's items without their modifiers, and the modifiers, checked against the session; enables
    CONDSTORE when they ask for MODSEQ (RFC 7162 3.1)."""
    mods = items[-1] if items and isinstance(items[-1], FetchModifiers) else None
    if mods is not None:
        items = items[:-1]
        if mods.vanished:
            # RFC 7162 3.2.6
            if not by_uid:
                raise CommandSyntaxError("VANISHED is allowed with UID FETCH only")
            if not qresync(session):
                raise CommandSyntaxError("VANISHED needs QRESYNC enabled first (ENABLE QRESYNC)")
            if mods.changed_since is None:
                raise CommandSyntaxError("VANISHED needs CHANGEDSINCE")
        if mods.changed_since is not None and "MODSEQ" not in items:
            items = items + ["MODSEQ"]  # RFC 7162 3.1.4.1: CHANGEDSINCE implies MODSEQ
    if "MODSEQ" in items:
        enable_condstore(session)
    return items, mods


def changed_messages(session, view, uids: list[int], since: int) -> list:
    """The messages among uids (sorted) with a modseq above since, by the store's index."""
    found = []
    for message in session.account.changed_since(view.mailbox_id, since):
        i = bisect.bisect_left(uids, message.uid)
        if i < len(uids) and uids[i] == message.uid:
            found.append(message)
    return found


def vanished_earlier(session, view, ranges, since: int) -> list[bytes]:
    """UID FETCH's VANISHED (EARLIER) (RFC 7162 3.2.6): the UIDs of the set expunged after since. UIDs
    still in the session's view are left for the VANISHED response that reports them."""
    account = session.account
    box = account.mailbox_by_id(view.mailbox_id)
    if box is None:
        return []
    # "*" is the highest UID the mailbox gave: expunged messages above the last one there count too.
    last = box.uidnext - 1
    wanted = _normal((last if a is None else a, last if b is None else b) for a, b in ranges)
    expunged = account.expunged_since(view.mailbox_id, since)
    if expunged is None:
        # The log no longer goes back that far: all UIDs of the set that are not there may have gone.
        present = sorted(set(account.uids(view.mailbox_id)) | set(view.uids))
        return vanished(missing(wanted, present, 1, box.uidnext - 1), earlier=True)
    # Below UIDNEXT: a mailbox made with the id of a deleted one does not speak of the other's UIDs to come.
    return vanished(ranges_of([u for u in expunged if u <= last and _in(wanted, u) and not view.seq(u)]),
                    earlier=True)


# STORE (RFC 7162 3.1.3).


@dataclass
class StoreModifiers:
    unchanged_since: int | None = None


def store_modifiers(line: bytes) -> arguments.Result:
    """STORE's optional modifiers before the flag operation (RFC 4466 2.5): (UNCHANGEDSINCE n)."""
    if not line.startswith(b"("):
        return None, line
    end = line.find(b")")
    if end == -1:
        raise CommandSyntaxError("Mismatched parenthesis")
    tokens = line[1:end].split()
    mods = StoreModifiers()
    if len(tokens) != 2 or tokens[0].upper() != b"UNCHANGEDSINCE":
        raise CommandSyntaxError("unknown store modifier, expected (UNCHANGEDSINCE modseq)")
    mods.unchanged_since = modseq_value(tokens[1], "UNCHANGEDSINCE", zero=True)
    return mods, line[end + 1:].lstrip(b" ")


# SEARCH (RFC 7162 3.1.5).


def search_key(reader) -> criteria.ModSeq:
    """What follows the MODSEQ search key: [entry-name entry-type-req] mod-sequence-valzer. There is one
    modseq per message, so the entry (a flag's) is read and not used, as RFC 7162 3.1.5 allows."""
    token = reader.next()
    if isinstance(token, syntax.String):
        kind = reader.next()
        if isinstance(kind, list) or bytes(kind).upper() not in (b"PRIV", b"SHARED", b"ALL"):
            raise CommandSyntaxError("MODSEQ entry type must be priv, shared or all")
        token = reader.next()
    return criteria.ModSeq(modseq_value(token, "MODSEQ", zero=True))


def uses_modseq(node) -> bool:
    """Whether search criteria have a MODSEQ key."""
    if isinstance(node, criteria.ModSeq):
        return True
    if isinstance(node, criteria.And):
        return any(uses_modseq(n) for n in node.items)
    if isinstance(node, criteria.Or):
        return uses_modseq(node.a) or uses_modseq(node.b)
    if isinstance(node, criteria.Not):
        return uses_modseq(node.a)
    return False

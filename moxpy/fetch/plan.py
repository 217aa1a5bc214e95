"""Which remote messages a run fetches: pure functions over a listing of
the remote mailbox and what the rule remembers.

A remote message is known by a key: its POP3 UIDL (RFC 1939 7), stable
across sessions; or for IMAP its UIDVALIDITY and UID (RFC 9051 2.3.1.1),
so that UIDs of a mailbox whose UIDVALIDITY changed never match old ones.
When the UIDVALIDITY changed, every message there looks new: they are
fetched, and one whose bytes hash to a message fetched before is only
remembered under its new key, not delivered again.

A rule that deletes after fetching also deletes messages it fetched in an
earlier run that are still there: their removal did not happen then (the
session broke off before POP3's QUIT or IMAP's EXPUNGE).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Remote:
    """A message in a remote listing."""

    key: str  # see pop3_key and imap_key
    ref: int  # what the client asks for: the POP3 message number, the IMAP UID
    size: int  # octets, as the server says


@dataclass
class Plan:
    fetch: list[Remote]  # new messages, in the remote's order
    too_large: list[Remote]  # new messages over the size limit: left on the remote, remembered as skipped
    delete: list[Remote]  # messages fetched before and still on the remote, to delete now
    by_content: bool  # compare what is fetched with the digests remembered, and deliver only what is not there
    known_digests: set[bytes] = field(default_factory=set)  # the digests to compare with when by_content
    keep: set[str] = field(default_factory=set)  # every key on the remote: what the rule goes on remembering


def pop3_key(uidl: str) -> str:
    return uidl


def imap_key(uidvalidity: int, uid: int) -> str:
    return f"{uidvalidity}.{uid}"


def plan(listing: list[Remote], seen: dict[str, bytes], max_size: int, validity_changed: bool = False,
         delete_after_fetch: bool = False) -> Plan:
    """What to do with a listing; seen: key -> digest of what the rule fetched (b"" for one skipped)."""
    new = [r for r in listing if r.key not in seen]
    fetch = [r for r in new if not max_size or r.size <= max_size]
    too_large = [r for r in new if max_size and r.size > max_size]
    delete = [r for r in listing if seen.get(r.key)] if delete_after_fetch else []
    known = {d for d in seen.values() if d} if validity_changed else set()
    return Plan(fetch=fetch, too_large=too_large, delete=delete, by_content=validity_changed, known_digests=known,
                keep={r.key for r in listing})

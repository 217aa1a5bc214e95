"""Search criteria over the messages of a mailbox.

A search is a tree of these values (made by the IMAP server from its
SEARCH syntax, RFC 3501 6.4.4, but knowing nothing of IMAP). An
implementation runs it in its index: store.sqlite.search compiles it to
one SQL query.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass
class And:
    items: list[Criteria] = field(default_factory=list)  # all must match; empty: every message


@dataclass
class Or:
    a: Criteria
    b: Criteria


@dataclass
class Not:
    a: Criteria


@dataclass
class Flag:
    name: str  # a system flag or keyword, any case
    present: bool = True


@dataclass
class UIDRanges:
    ranges: list[tuple[int, int]]  # inclusive


@dataclass
class Size:
    larger: bool  # True: size > octets, False: size < octets
    octets: int


@dataclass
class Received:
    """Internal date against a day (RFC 3501 6.4.4: disregarding time and time zone) or an age in seconds."""

    relation: str  # before, on, since; older, younger (RFC 5032) with seconds
    day: date | None = None
    seconds: int = 0


@dataclass
class Sent:
    """The Date header's own calendar day (RFC 3501 6.4.4: disregarding time and time zone) against a day."""

    relation: str  # before, on, since
    day: date


@dataclass
class AddressField:
    """Case-insensitive substring of a name (encoded words decoded) or address in an address field.

    An empty value matches messages with any address in the field.
    """

    field: str  # from, to, cc, bcc
    value: str


@dataclass
class Text:
    """Case-insensitive substring: in a header field (name set; empty value: the field exists), the body, or both."""

    where: str  # header, body, text
    value: str
    name: str = ""


# Any one criterion.
Criteria = And | Or | Not | Flag | UIDRanges | Size | Received | Sent | AddressField | Text

"""Search criteria over the messages of a mailbox.

A search is a tree of these values (made by the IMAP server from its
SEARCH syntax, RFC 3501 6.4.4, but knowing nothing of IMAP). An
implementation runs it in its index: store.sqlite.search compiles it to
one SQL query.

MessageFilter is the other kind of search: what a listing of summaries
(Account.summary_page, the webapi's MessageList and MessageSearch)
selects, all criteria together, answered from the index alone, with words
found by full-text search rather than substrings read from files.
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


@dataclass
class ModSeq:
    """RFC 7162 3.1.5: the message's modseq is at least this."""

    at_least: int


# Any one criterion.
Criteria = And | Or | Not | Flag | UIDRanges | Size | Received | Sent | AddressField | Text | ModSeq


class SearchError(ValueError):
    """A MessageFilter that cannot be searched for (search text without words); the message says why."""


@dataclass
class MessageFilter:
    """The messages a listing selects: those matching every criterion given (empty ones select all).

    Word criteria (from_, to, subject, body, text) hold search text: words, each matching words starting
    with it, and "quoted phrases", all of which must occur (store.sqlite.fulltext).
    """

    mailbox_ids: list[int] | None = None  # None: every mailbox
    from_: str = ""  # words in the From addresses (names and addresses)
    to: str = ""  # words in the To, Cc and Bcc addresses
    subject: str = ""
    body: str = ""  # words of the readable text (of the HTML made text when there is no text part)
    text: str = ""  # words in any of subject, addresses and body
    since: float | None = None  # received at or after, Unix time
    before: float | None = None  # received before
    flags: list[str] = field(default_factory=list)  # all of these set (system flags or keywords, any case)
    not_flags: list[str] = field(default_factory=list)  # none of these set
    has_attachments: bool | None = None
    larger_than: int = 0  # size in octets above this; 0: any
    smaller_than: int = 0  # size below this; 0: any
    message_id: str = ""  # the Message-ID header, with <>

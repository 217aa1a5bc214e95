"""A message as applications see it: what the webapi's MessageGet and the
incoming webhook report of a message's content (mox's webapi.Message and
webhook.Incoming): its addresses, subject, message-ids, date, readable
text and HTML, and MIME structure.

Field names are mox's, so the webapi and webhook types are filled from a
View by name, with msgspec.convert(view, Type, from_attributes=True); each
caller adds what only it reports (the store's metadata, the SMTP
envelope). Pure: message bytes in, a View out; CPU work, so callers on
the event loop run it in a thread when messages can be large.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import Message
from typing import Any

from . import parse as msgparse
from . import part as partlib
from . import readable

# Header fields that mark mail sent by a program (RFC 2369 and RFC 2919 list
# fields, and Precedence), as mox checks them.
_AUTOMATED_HEADERS = ("List-Id", "List-Unsubscribe", "List-Unsubscribe-Post", "Precedence")


@dataclass
class Correspondent:
    Name: str  # display name, RFC 2047 words decoded
    Address: str  # as written, localpart@domain


@dataclass
class View:
    From: list[Correspondent]
    To: list[Correspondent]
    CC: list[Correspondent]
    BCC: list[Correspondent]
    ReplyTo: list[Correspondent]
    Subject: str
    MessageID: str  # with <>
    InReplyTo: str  # with <>
    References: list[str]  # the References field's message-ids, oldest first
    Date: datetime | None
    Text: str  # first text/plain part, \n line ends, cut at READABLE_LIMIT
    HTML: str  # first text/html part, likewise
    Structure: dict[str, Any]  # the MIME tree, see parse.structure
    automated_headers: bool  # list fields, Auto-Submitted or a report: see automated()

    @property
    def thread_references(self) -> list[str]:
        """References with In-Reply-To in front when it is not among them, as
        mox's MessageGet reports them: In-Reply-To is the older, weaker link."""
        if self.InReplyTo and self.InReplyTo not in self.References:
            return [self.InReplyTo] + self.References
        return list(self.References)

    def automated(self, mail_from: str) -> bool:
        """Whether the message was sent by a program (a list, an auto-reply, a
        bounce), so it should get no automated reply. An empty MAIL FROM is a
        bounce or other notification (RFC 5321 4.5.5)."""
        return not mail_from or self.automated_headers


def build(data: bytes, root: partlib.Part | None = None) -> View:
    """The view of a message; root is its part tree when the caller has it (the store keeps one)."""
    if root is None:
        root = partlib.parse(data)
    # Only the header section is parsed as fields; the bodies are read through the part tree.
    msg = msgparse.parse_headers(data)
    text_part, html_part = readable.parts(root)
    text = readable.decode(data, text_part, msgparse.READABLE_LIMIT)
    html = readable.decode(data, html_part, msgparse.READABLE_LIMIT)
    references: list[str] = []
    for value in msg.get_all("References") or []:
        references.extend(msgparse.clean(str(value)).split())
    return View(
        From=_names(msg, "From"), To=_names(msg, "To"), CC=_names(msg, "Cc"), BCC=_names(msg, "Bcc"),
        ReplyTo=_names(msg, "Reply-To"),
        Subject=msgparse.header_str(msg, "Subject"),
        MessageID=msgparse.header_str(msg, "Message-ID"),
        InReplyTo=msgparse.header_str(msg, "In-Reply-To"),
        References=references,
        Date=msgparse.date(msg),
        Text=text, HTML=html,
        Structure=msgparse.structure(data, root),
        automated_headers=_automated_headers(msg),
    )


def _names(msg: Message, header: str) -> list[Correspondent]:
    return [Correspondent(name, address) for name, address in msgparse.addresses(msg, header)]


def _automated_headers(msg: Message) -> bool:
    if any(msg.get(h) is not None for h in _AUTOMATED_HEADERS):
        return True
    # RFC 3834 5: Auto-Submitted other than "no".
    auto = msgparse.header_str(msg, "Auto-Submitted").lower()
    if auto and auto != "no":
        return True
    # A report (a DSN, an MDN, RFC 6522) is made by a program.
    return msgparse.content_type(msg) == "multipart/report"

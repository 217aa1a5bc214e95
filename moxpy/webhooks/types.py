"""The JSON bodies of webhooks (mox's package webhook).

Field names and meanings follow mox exactly so receivers written for mox
work unchanged. New fields may be added; receivers must ignore unknown ones.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

import msgspec
from msgspec import Meta, field

from ..queue.events import EVENTS


# Go's zero time, for timestamps that are always present.
ZERO_TIME = datetime(1, 1, 1, tzinfo=timezone.utc)


def doc(text: str) -> Meta:
    return Meta(description=text)


class NameAddress(msgspec.Struct, forbid_unknown_fields=True):
    Name: Annotated[str, doc("Optional, human-readable display name of the addressee.")] = ""
    Address: Annotated[str, doc("Required, email address.")] = ""


class Structure(msgspec.Struct):
    ContentType: Annotated[str, doc("Lower case, e.g. text/plain.")] = ""
    ContentTypeParams: Annotated[dict[str, str], doc('Lower case keys, original case values, e.g. {"charset": "UTF-8"}.')] = field(default_factory=dict)
    ContentID: Annotated[str, doc("Can be empty. Otherwise a value wrapped in <>, referenced from HTML as cid:...")] = ""
    ContentDisposition: Annotated[str, doc('Lower case, e.g. "attachment", "inline", or empty when absent; without parameters.')] = ""
    Filename: Annotated[str, doc('From the "filename" parameter of Content-Disposition or "name" of Content-Type, decoded.')] = ""
    DecodedSize: Annotated[int, doc("Size after undoing the transfer encoding; for text this counts \\r\\n line ends.")] = 0
    Parts: Annotated[list[Structure], doc("Subparts of a multipart part, possibly nested.")] = field(default_factory=list)


class Outgoing(msgspec.Struct):
    Version: Annotated[int, doc("Format of the webhook, currently 0.")] = 0
    Event: Annotated[str, doc("Kind of event: " + ", ".join(EVENTS) + ".")] = ""
    DSN: Annotated[bool, doc("Whether the event came from an incoming delivery status notification (DSN).")] = False
    Suppressing: Annotated[bool, doc("Whether this failure added the recipient to the suppression list.")] = False
    QueueMsgID: Annotated[int, doc("ID of the message in the queue, as returned by Send.")] = 0
    FromID: Annotated[str, doc("Unique ID used in the SMTP MAIL FROM, as returned by Send; can be empty.")] = ""
    MessageID: Annotated[str, doc("Message-Id header of the message, with <>.")] = ""
    Subject: Annotated[str, doc("Subject of the message.")] = ""
    WebhookQueued: Annotated[datetime, doc("When the webhook was first queued for delivery.")] = ZERO_TIME
    SMTPCode: Annotated[int, doc("For errors: SMTP reply code, e.g. 451 or 550.")] = 0
    SMTPEnhancedCode: Annotated[str, doc("For errors: enhanced status code, e.g. 5.1.1.")] = ""
    Error: Annotated[str, doc("Error message from the delivery attempt or the DSN, if any.")] = ""
    Extra: Annotated[dict[str, str], doc("Extra fields given at submission (Send's Extra or X-Mox-Extra-* headers).")] = field(default_factory=dict)


class IncomingMeta(msgspec.Struct):
    MsgID: Annotated[int, doc("ID of the message in storage, for webapi calls like MessageGet.")] = 0
    MailFrom: Annotated[str, doc('Address given in SMTP "MAIL FROM".')] = ""
    MailFromValidated: Annotated[bool, doc("Whether the MAIL FROM address was SPF-validated.")] = False
    MsgFromValidated: Annotated[bool, doc('Whether the "From" header address was DMARC(-like) validated.')] = False
    RcptTo: Annotated[str, doc('Address given in SMTP "RCPT TO".')] = ""
    DKIMVerifiedDomains: Annotated[list[str], doc("Domains with a verified DKIM signature on the message.")] = field(default_factory=list)
    RemoteIP: Annotated[str, doc("IP address the message was delivered from.")] = ""
    Received: Annotated[datetime, doc("When the message was received; can differ from the Date header.")] = ZERO_TIME
    MailboxName: Annotated[str, doc('Mailbox the message was delivered to, "Inbox" by default.')] = ""
    Automated: Annotated[bool, doc("Whether the message is automated (list, auto-reply) and should not get automated replies.")] = False


class Incoming(msgspec.Struct):
    Version: Annotated[int, doc("Format of the webhook, currently 0.")] = 0
    From: Annotated[list[NameAddress], doc('"From" header, typically one address.')] = field(default_factory=list)
    To: list[NameAddress] = field(default_factory=list)
    CC: list[NameAddress] = field(default_factory=list)
    BCC: Annotated[list[NameAddress], doc("Often empty, even for BCC recipients.")] = field(default_factory=list)
    ReplyTo: Annotated[list[NameAddress], doc("Optional Reply-To header.")] = field(default_factory=list)
    Subject: str = ""
    MessageID: Annotated[str, doc("Message-Id header, with <>.")] = ""
    InReplyTo: Annotated[str, doc("Optional In-Reply-To header, with <>.")] = ""
    References: Annotated[list[str], doc("Message-ids this message replies to, oldest first, with <>.")] = field(default_factory=list)
    Date: Annotated[datetime | None, doc('Time in the "Date" header.')] = None
    Text: Annotated[str, doc("First text/plain part, \\n line ends, cut at 1 MiB.")] = ""
    HTML: Annotated[str, doc("First text/html part, \\n line ends, cut at 1 MiB.")] = ""
    Structure: Annotated[Structure, doc("MIME structure of the message.")] = field(default_factory=Structure)
    Meta: Annotated[IncomingMeta, doc("Storage and SMTP details.")] = field(default_factory=IncomingMeta)

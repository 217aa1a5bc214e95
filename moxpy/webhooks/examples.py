"""Example webhook payloads, made from the same types the server sends, for
`mox.py example` and the generated documentation."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import msgspec

from . import types as t

_when = datetime(2024, 4, 4, 14, 29, 42, tzinfo=timezone.utc)
_from_id = "MDEyMzQ1Njc4OWFiY2RlZg"


def _outgoing_delivered() -> t.Outgoing:
    return t.Outgoing(Version=0, Event="delivered", QueueMsgID=101, FromID=_from_id,
                      MessageID="<QnxzgulZK51utga6agH_rg@mox.example>", Subject="subject of original message",
                      WebhookQueued=_when, SMTPCode=250, Extra={})


def _outgoing_dsn_failed() -> t.Outgoing:
    return t.Outgoing(Version=0, Event="failed", DSN=True, Suppressing=True, QueueMsgID=102, FromID=_from_id,
                      MessageID="<QnxzgulZK51utga6agH_rg@mox.example>", Subject="subject of original message",
                      WebhookQueued=_when, SMTPCode=554, SMTPEnhancedCode="5.4.0",
                      Error="timeout connecting to host", Extra={"userid": "456"})


def _incoming_basic() -> t.Incoming:
    return t.Incoming(
        Version=0,
        From=[t.NameAddress(Address="mox@localhost")],
        To=[t.NameAddress(Address="mjl@localhost")],
        Subject="hi",
        MessageID="<QnxzgulZK51utga6agH_rg@mox.example>",
        Date=_when,
        Text="hello world ☺\n",
        Structure=t.Structure(ContentType="text/plain", ContentTypeParams={"charset": "utf-8"},
                              DecodedSize=len("hello world ☺\r\n".encode())),
        Meta=t.IncomingMeta(MsgID=201, MailFrom="mox@localhost", MailFromValidated=False, MsgFromValidated=True,
                            RcptTo="mjl@localhost", DKIMVerifiedDomains=["localhost"], RemoteIP="127.0.0.1",
                            Received=_when + timedelta(seconds=3), MailboxName="Inbox", Automated=False),
    )


# name -> (description, payload)
EXAMPLES = {
    "webhook-outgoing-delivered": ("Example webhook HTTP POST JSON body for successful outgoing delivery:",
                                   _outgoing_delivered),
    "webhook-outgoing-dsn-failed": (
        "Example webhook HTTP POST JSON body for failed delivery based on incoming DSN\n"
        "message, with custom extra data fields (from original submission), and adding\n"
        "address to the suppression list:", _outgoing_dsn_failed),
    "webhook-incoming-basic": ("Example JSON body for webhooks for incoming delivery of basic message:",
                               _incoming_basic),
}


def render(name: str, examples: dict | None = None) -> str:
    """The example's description and its JSON, indented; from EXAMPLES, or the examples given."""
    description, make = (examples or EXAMPLES)[name]
    body = msgspec.json.format(msgspec.json.encode(make()), indent=4).decode()
    return description + "\n\n" + "\n".join("\t" + line for line in body.splitlines()) + "\n"

"""An account's change log (store LoggedChange entries) as applications see
it: ChangesSince's changes and the change webhooks' payloads are the same
ChangeEvent values, made here.

A cursor is a position in the log written as text. Clients keep it as it
is; one that is not a cursor this server made is a `user` error, so a
mangled cursor never reads as a server failure.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

import msgspec

from ..store import Account, ChangePosition, LoggedChange
from ..webhooks.changes import ChangePayload
from . import summary as summarylib
from . import types as t
from .errors import WebapiError

# The events, with what each means (the store's CHANGE_EVENTS, in words).
EVENTS = {
    "messageNew": "a message arrived in a mailbox, whatever brought it: delivery over SMTP, Send's copy in Sent, "
                  "IMAP APPEND or COPY, or a move (IMAP MOVE, MessageMove) into the mailbox",
    "messageDeleted": "a message left a mailbox: expunged, deleted (MessageDelete), moved to another mailbox, "
                      "or its mailbox was deleted",
    "messageUpdated": "a message's flags changed; `Added` and `Removed` say how",
    "mailboxNew": "a mailbox was created (its parents too, each with its own event, when they were missing)",
    "mailboxDeleted": "a mailbox was deleted, after a messageDeleted for each of its messages",
    "mailboxRenamed": "a mailbox was renamed (its children too, each with its own event); `OldName` is the name "
                      "before",
}

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000

# Two decimal numbers below 2**63 (18 digits at most), without signs or leading zeros.
_CURSOR = re.compile(r"(0|[1-9][0-9]{0,17})\.(0|[1-9][0-9]{0,17})")


def cursor(position: ChangePosition) -> str:
    return f"{position.modseq}.{position.seq}"


def position(text: str) -> ChangePosition:
    """The position a cursor names; WebapiError user when it is not a cursor."""
    match = _CURSOR.fullmatch(text)
    if match is None:
        raise WebapiError("user", f"malformed cursor {text[:40]!r}: pass a NextCursor or Cursor as received")
    return ChangePosition(int(match.group(1)), int(match.group(2)))


def events(account: Account, entries: list[LoggedChange]) -> list[t.ChangeEvent]:
    """The payloads of log entries of an account, messageNew with the message's summary (index reads only)."""
    arrived = [e.msg_id for e in entries if e.event == "messageNew"]
    summaries = {s.id: summarylib.message_summary(s) for s in account.summaries(arrived)} if arrived else {}
    return [t.ChangeEvent(
        Version=0, Event=e.event, Cursor=cursor(e.position), Time=datetime.fromtimestamp(e.at, timezone.utc),
        MailboxID=e.mailbox_id, MailboxName=e.mailbox_name, OldName=e.old_name, MsgID=e.msg_id, UID=e.uid,
        Added=summarylib.flags(e.added), Removed=summarylib.flags(e.removed),
        Message=summaries.get(e.msg_id) if e.event == "messageNew" else None) for e in entries]


def webhook_payloads(account: Account, entries: list[LoggedChange]) -> list[ChangePayload]:
    """The change webhooks of log entries of an account (webhooks.changes.PayloadMaker)."""
    return [ChangePayload(event=e.Event, body=msgspec.json.encode(e).decode(),
                          message_id=e.Message.MessageID if e.Message else "",
                          subject=e.Message.Subject if e.Message else "") for e in events(account, entries)]

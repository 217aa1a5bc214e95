"""A store's message summary (store.Summary) as the webapi reports it
(types.MessageSummary): for MessageList and MessageSearch, and for
anything else that shows a message in brief, such as change webhooks."""

from __future__ import annotations

from datetime import datetime, timezone

from ..store import Summary
from ..store import flags as flaglib
from ..webhooks.types import NameAddress
from . import types as t


def flags(names: list[str]) -> list[str]:
    """Flags as mox lists them: system flags lower case and sorted, then keywords."""
    return sorted(f.lower() for f in names if flaglib.is_system(f)) + [f for f in names if not flaglib.is_system(f)]


def _time(unix: float) -> datetime:
    return datetime.fromtimestamp(unix, timezone.utc)


def _addresses(pairs: list[tuple[str, str]]) -> list[NameAddress]:
    return [NameAddress(Name=name, Address=address) for name, address in pairs]


def message_summary(s: Summary) -> t.MessageSummary:
    return t.MessageSummary(
        MsgID=s.id,
        UID=s.uid,
        MailboxName=s.mailbox_name,
        Received=_time(s.received),
        Date=_time(s.date) if s.date is not None else None,
        Size=s.size,
        Flags=flags(s.flags),
        Subject=s.subject,
        From=_addresses(s.from_),
        To=_addresses(s.to),
        CC=_addresses(s.cc),
        MessageID=s.message_id,
        InReplyTo=s.in_reply_to,
        Preview=s.preview,
        HasAttachments=s.has_attachments,
        TextSize=s.text_size,
        HTMLSize=s.html_size,
    )

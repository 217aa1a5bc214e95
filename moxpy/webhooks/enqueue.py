"""Queueing webhooks: the payload is built and stored in the transaction
that records what it is about.

- outgoing_sink() is a queue event sink: for every outgoing event of an
  account with an OutgoingWebhook that wants the event, it queues a
  webhook, superseding older undelivered webhooks about the same queue
  message (only the newest state of a message matters).
- queue_incoming() queues the webhook for a message delivered into an
  account with an IncomingWebhook; incoming_payload() builds its body from
  the stored message.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

import msgspec

from ..message import parse as msgparse
from ..queue.events import Event
from ..queue.outcome import EventSink
from ..store.queue import QueueTransaction
from ..store.webhooks import Webhook, WebhookTransaction
from . import types as t


def _time(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc)


def outgoing_payload(event: Event, queued: float) -> t.Outgoing:
    return t.Outgoing(
        Version=0, Event=event.event, DSN=event.dsn, Suppressing=event.suppressing,
        QueueMsgID=event.queue_msg_id, FromID=event.from_id, MessageID=event.message_id, Subject=event.subject,
        WebhookQueued=_time(queued), SMTPCode=event.smtp_code, SMTPEnhancedCode=event.smtp_enhanced_code,
        Error=event.error, Extra=dict(event.extra))


def outgoing_sink(get_config) -> EventSink:
    """The event sink the queue calls inside its transactions."""

    def sink(tx: QueueTransaction, event: Event) -> None:
        account = get_config().Accounts.get(event.account)
        hook = account.OutgoingWebhook if account else None
        if hook is None or not hook.URL or (hook.Events and event.event not in hook.Events):
            return
        now = time.time()
        payload = msgspec.json.encode(outgoing_payload(event, now)).decode()
        tx.webhooks.add(Webhook(
            id=0, account=event.account, url=hook.URL, authorization=hook.Authorization, is_incoming=False,
            event=event.event, payload=payload, submitted=now, next_attempt=now, queue_msg_id=event.queue_msg_id,
            from_id=event.from_id, message_id=event.message_id, subject=event.subject, extra=dict(event.extra)),
            supersede=True, keep=account.KeepRetiredWebhookPeriod)

    return sink


# Incoming messages.

# Headers that mark a message as automated (lists, auto-replies), as mox checks them.
_AUTOMATED_HEADERS = ("List-Id", "List-Unsubscribe", "List-Unsubscribe-Post", "Precedence")


def _names(msg, header: str) -> list[t.NameAddress]:
    return [t.NameAddress(Name=name, Address=address) for name, address in msgparse.addresses(msg, header)]


def _automated(msg, mail_from: str) -> bool:
    # RFC 3834 5 (Auto-Submitted), RFC 2369/2919 (list headers); an empty
    # MAIL FROM is a bounce or other service message (RFC 5321 4.5.5).
    if not mail_from:
        return True
    if any(msg.get(h) is not None for h in _AUTOMATED_HEADERS):
        return True
    auto = msgparse.header_str(msg, "Auto-Submitted").lower()
    if auto and auto != "no":
        return True
    return msgparse.content_type(msg) == "multipart/report"


def incoming_payload(data: bytes, msg_id: int, mailbox: str, received: float, mail_from: str, rcpt_to: str,
                     remote_ip: str, mail_from_validated: bool = False, msg_from_validated: bool = False,
                     dkim_domains: list[str] | None = None) -> t.Incoming:
    """The incoming webhook's body for a stored message (CPU work: call it off the event loop)."""
    msg = msgparse.parse(data)
    text, html = msgparse.readable_parts(msg)
    references = []
    for value in msg.get_all("References") or []:
        references.extend(msgparse.clean(str(value)).split())
    return t.Incoming(
        Version=0,
        From=_names(msg, "From"), To=_names(msg, "To"), CC=_names(msg, "Cc"), BCC=_names(msg, "Bcc"),
        ReplyTo=_names(msg, "Reply-To"),
        Subject=msgparse.header_str(msg, "Subject"),
        MessageID=msgparse.header_str(msg, "Message-ID"),
        InReplyTo=msgparse.header_str(msg, "In-Reply-To"),
        References=references,
        Date=msgparse.date(msg),
        Text=text, HTML=html,
        Structure=msgspec.convert(msgparse.structure(data), t.Structure),
        Meta=t.IncomingMeta(
            MsgID=msg_id, MailFrom=mail_from, MailFromValidated=mail_from_validated,
            MsgFromValidated=msg_from_validated, RcptTo=rcpt_to, DKIMVerifiedDomains=list(dkim_domains or []),
            RemoteIP=remote_ip, Received=_time(received), MailboxName=mailbox,
            Automated=_automated(msg, mail_from)),
    )


def queue_incoming(tx: WebhookTransaction, account: str, url: str, authorization: str, payload: t.Incoming) -> int:
    now = time.time()
    return tx.add(Webhook(id=0, account=account, url=url, authorization=authorization, is_incoming=True, event="",
                          payload=msgspec.json.encode(payload).decode(), submitted=now, next_attempt=now,
                          message_id=payload.MessageID, subject=payload.Subject))

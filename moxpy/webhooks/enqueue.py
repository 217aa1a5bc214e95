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

from .. import config as configlib
from ..message import view as msgview
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


def outgoing_sink(config: configlib.Source) -> EventSink:
    """The event sink the queue calls inside its transactions."""

    def sink(tx: QueueTransaction, event: Event) -> None:
        account = config.current().Accounts.get(event.account)
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

def incoming_payload(data: bytes, msg_id: int, mailbox: str, received: float, mail_from: str, rcpt_to: str,
                     remote_ip: str, mail_from_validated: bool = False, msg_from_validated: bool = False,
                     dkim_domains: list[str] | None = None) -> t.Incoming:
    """The incoming webhook's body for a stored message (CPU work: call it off the event loop)."""
    view = msgview.build(data)
    payload = msgspec.convert(view, t.Incoming, from_attributes=True)
    payload.Meta = t.IncomingMeta(
        MsgID=msg_id, MailFrom=mail_from, MailFromValidated=mail_from_validated,
        MsgFromValidated=msg_from_validated, RcptTo=rcpt_to, DKIMVerifiedDomains=list(dkim_domains or []),
        RemoteIP=remote_ip, Received=_time(received), MailboxName=mailbox, Automated=view.automated(mail_from))
    return payload


def queue_incoming(tx: WebhookTransaction, account: str, url: str, authorization: str, payload: t.Incoming) -> int:
    now = time.time()
    return tx.add(Webhook(id=0, account=account, url=url, authorization=authorization, is_incoming=True, event="",
                          payload=msgspec.json.encode(payload).decode(), submitted=now, next_attempt=now,
                          message_id=payload.MessageID, subject=payload.Subject))

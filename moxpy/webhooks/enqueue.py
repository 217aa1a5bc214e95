"""Queueing webhooks: the payload is built and stored in the transaction
that records what it is about.

- outgoing_sink() is a queue event sink: for every outgoing event of an
  account with an OutgoingWebhook that wants the event, it inserts a
  webhook, and retires older undelivered webhooks about the same queue
  message as superseded (only the newest state of a message matters).
- insert_incoming_tx() queues the webhook for a message delivered into an
  account with an IncomingWebhook; incoming_payload() builds its body from
  the stored message.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from datetime import datetime, timezone

import msgspec

from ..message import view as msgview
from ..queue.outcome import Event
from . import types as t


def _time(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc)


def outgoing_payload(event: Event, queued: float) -> t.Outgoing:
    return t.Outgoing(
        Version=0, Event=event.event, DSN=event.dsn, Suppressing=event.suppressing,
        QueueMsgID=event.queue_msg_id, FromID=event.from_id, MessageID=event.message_id, Subject=event.subject,
        WebhookQueued=_time(queued), SMTPCode=event.smtp_code, SMTPEnhancedCode=event.smtp_enhanced_code,
        Error=event.error, Extra=dict(event.extra))


def outgoing_sink(get_config) -> Callable[[sqlite3.Connection, Event], None]:
    """The event sink the queue calls inside its transactions."""

    def sink(conn: sqlite3.Connection, event: Event) -> None:
        account = get_config().Accounts.get(event.account)
        hook = account.OutgoingWebhook if account else None
        if hook is None or not hook.URL or (hook.Events and event.event not in hook.Events):
            return
        now = time.time()
        payload = msgspec.json.encode(outgoing_payload(event, now)).decode()
        new_id = conn.execute(
            """insert into webhooks (queue_msg_id, from_id, message_id, subject, extra, account, url, authorization,
                   is_incoming, event, payload, submitted, next_attempt)
               values (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)""",
            (event.queue_msg_id, event.from_id, event.message_id, event.subject, json.dumps(event.extra),
             event.account, hook.URL, hook.Authorization, event.event, payload, now, now)).lastrowid
        supersede_tx(conn, event.queue_msg_id, new_id, account.KeepRetiredWebhookPeriod, now)

    return sink


def supersede_tx(conn: sqlite3.Connection, queue_msg_id: int, new_id: int, keep: float, now: float) -> None:
    """Retire undelivered webhooks about queue_msg_id other than new_id."""
    old = conn.execute("select * from webhooks where queue_msg_id = ? and id != ?", (queue_msg_id, new_id)).fetchall()
    for row in old:
        conn.execute("delete from webhooks where id = ?", (row["id"],))
        if keep > 0:
            retire_row_tx(conn, dict(row), success=False, now=now, keep=keep, superseded_by=new_id)


def retire_row_tx(conn: sqlite3.Connection, row: dict, *, success: bool, now: float, keep: float,
                  superseded_by: int = 0, results: list | None = None) -> None:
    conn.execute(
        """insert or replace into webhooks_retired (id, queue_msg_id, from_id, message_id, subject, extra, account,
               url, is_incoming, event, payload, submitted, attempts, results, has_authorization, success,
               superseded_by, last_activity, keep_until)
           values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        (row["id"], row["queue_msg_id"], row["from_id"], row["message_id"], row["subject"], row["extra"],
         row["account"], row["url"], row["is_incoming"], row["event"], row["payload"], row["submitted"],
         row["attempts"], json.dumps(results) if results is not None else row["results"],
         int(bool(row["authorization"])), int(success), superseded_by, now, now + keep))


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


def insert_incoming_tx(conn: sqlite3.Connection, account: str, url: str, authorization: str,
                       payload: t.Incoming) -> int:
    now = time.time()
    return conn.execute(
        """insert into webhooks (queue_msg_id, message_id, subject, account, url, authorization, is_incoming,
               payload, submitted, next_attempt)
           values (0, ?, ?, ?, ?, ?, 1, ?, ?, ?)""",
        (payload.MessageID, payload.Subject, account, url, authorization, msgspec.json.encode(payload).decode(),
         now, now)).lastrowid

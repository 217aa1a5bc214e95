"""What happens after a message is delivered into an account over SMTP.

If it was sent to a FromID address of the account and matches an outgoing
queue entry, it is about our own mail: it becomes an outgoing event
(queue.fromid), not an incoming webhook. Otherwise, when the account has
an IncomingWebhook, a webhook with the parsed message is queued. Either is
committed before the SMTP server answers 250, so neither is lost.
"""

from __future__ import annotations

import asyncio
import logging

from .. import config as configlib
from ..queue import fromid
from ..queue.outcome import Recorder
from ..store import DeliveryMeta, Message
from ..store.queue import QueueStore, QueueTransaction
from . import enqueue

log = logging.getLogger("moxpy.webhooks")


class IncomingHooks:
    def __init__(self, config: configlib.Source, store: QueueStore, recorder: Recorder, on_queued=lambda: None):
        self.config = config
        self.store = store  # the queue's: a FromID match and a webhook commit in one of its transactions
        self.recorder = recorder  # the queue's, so DSN events reach the same sinks
        self.on_queued = on_queued

    async def after_delivery(self, account: str, mailbox: str, message: Message, data: bytes,
                             meta: DeliveryMeta) -> None:
        """For the SMTP delivery handler: a stored message and what the session learned."""
        try:
            await self.delivered(account, mailbox, message.id, message.received, data, mail_from=meta.mail_from,
                                 rcpt_to=meta.rcpt_to, remote_ip=meta.remote_ip,
                                 mail_from_validated=meta.mail_from_validated,
                                 msg_from_validated=meta.msg_from_validated, dkim_domains=meta.dkim_domains)
        except Exception:
            # The message is stored; a webhook problem must not fail its delivery.
            log.exception("webhooks for delivered message account=%s msgid=%d", account, message.id)

    async def delivered(self, account: str, mailbox: str, msg_id: int, received: float, data: bytes, *,
                        mail_from: str, rcpt_to: str, remote_ip: str, mail_from_validated: bool = False,
                        msg_from_validated: bool = False, dkim_domains: list[str] | None = None) -> None:
        config = self.config.current()
        acc = config.Accounts.get(account)
        fid = fromid.from_id(config, rcpt_to)
        hook = acc.IncomingWebhook if acc else None
        want_incoming = hook is not None and bool(hook.URL)
        if not fid and not want_incoming:
            return
        loop = asyncio.get_running_loop()
        classified = await loop.run_in_executor(None, fromid.classify, data) if fid else None
        payload = None
        if want_incoming:
            payload = await loop.run_in_executor(None, lambda: enqueue.incoming_payload(
                data, msg_id, mailbox, received, mail_from, rcpt_to, remote_ip, mail_from_validated,
                msg_from_validated, dkim_domains))

        def record(tx: QueueTransaction) -> str:
            if fid and fromid.record(tx, self.recorder, account, fid, classified) is not None:
                return "outgoing"
            if payload is not None:
                enqueue.queue_incoming(tx.webhooks, account, hook.URL, hook.Authorization, payload)
                return "incoming"
            return ""

        kind = await self.store.transaction(record)
        if kind:
            log.info("webhook queued kind=%s account=%s msgid=%d", kind, account, msg_id)
            self.on_queued()

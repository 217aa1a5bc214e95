"""Storing a message that arrived for an account: the one path incoming
mail takes, whether it came to the SMTP delivery listener or was collected
from a remote mailbox. The webhooks that follow a delivery (incoming
webhooks, and outgoing events for mail about our own messages) are queued
before this returns, so a caller that answers only afterwards loses
nothing.
"""

from __future__ import annotations

import logging
from email.message import EmailMessage

from .store import DeliveryMeta, Message, Store

log = logging.getLogger("moxpy.delivery")


class Inbound:
    def __init__(self, store: Store, hooks=None):
        """hooks: an object with after_delivery(account, mailbox, message, data, meta), or None."""
        self.store = store
        self.hooks = hooks

    async def deliver(self, account: str, mailbox: str, data: bytes, meta: DeliveryMeta,
                      headers: EmailMessage | None = None) -> Message:
        """Store data in the account's mailbox; the stored message. headers: data's header section
        when the caller parsed it already."""
        message = await self.store.account(account).deliver(data, mailbox, meta=meta, headers=headers)
        if self.hooks is not None:
            await self.hooks.after_delivery(account, mailbox, message, data, meta)
        return message

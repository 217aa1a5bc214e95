"""The DSN outbox: DSNs about our own outgoing mail, on their way to the
sender's Inbox.

A DSN is written to the outbox in the transaction that decided on it (a
failure, a delay warning, a suppressed recipient), and removed once it is
stored in the submitting account's Inbox, so a crash in between cannot lose
one.
"""

from __future__ import annotations

import asyncio
import logging

from .. import config as configlib
from ..store import DeliveryMeta, Store
from ..store.queue import QueueStore

log = logging.getLogger("moxpy.queue")


class DSNOutbox:
    def __init__(self, config: configlib.Source, store: QueueStore, accounts: Store | None):
        self.store = store
        self.accounts = accounts  # where DSNs to our own senders are delivered
        self.config = config
        self._lock = asyncio.Lock()
        self.dirty = True  # set when a transaction adds a DSN; look at start too

    async def send(self) -> None:
        """Deliver DSNs waiting in the outbox into their senders' Inbox."""
        if self.accounts is None:
            return
        async with self._lock:
            self.dirty = False
            for dsn in self.store.pending_dsns():
                if dsn.account in self.config.current().Accounts:
                    meta = DeliveryMeta(mail_from="", rcpt_to=dsn.rcpt_to, dsn=True)
                    try:
                        stored = await self.accounts.account(dsn.account).deliver(dsn.data, "Inbox", meta=meta)
                    except Exception:
                        log.exception("delivering dsn to account %s; will try again", dsn.account)
                        self.dirty = True
                        return
                    log.info("dsn delivered account=%s msgid=%d", dsn.account, stored.id)
                else:
                    log.error("dropping dsn for account %s that no longer exists", dsn.account)
                await self.store.remove_dsn(dsn.id)

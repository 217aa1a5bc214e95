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

from ..store import DeliveryMeta, Store
from ..store.db import Database

log = logging.getLogger("moxpy.queue")


class DSNOutbox:
    def __init__(self, db: Database, store: Store | None, get_config):
        self.db = db
        self.store = store  # where DSNs to our own senders are delivered
        self.get_config = get_config
        self._lock = asyncio.Lock()
        self.dirty = True  # set when a transaction adds a DSN; look at start too

    async def send(self) -> None:
        """Deliver DSNs waiting in the outbox into their senders' Inbox."""
        if self.store is None:
            return
        async with self._lock:
            self.dirty = False
            rows = self.db.query("select * from dsn_outbox order by id")
            for row in rows:
                config = self.get_config()
                if row["account"] in config.Accounts:
                    meta = DeliveryMeta(mail_from="", rcpt_to=row["rcpt_to"], dsn=True)
                    try:
                        stored = await self.store.account(row["account"]).deliver(bytes(row["data"]), "Inbox",
                                                                                  meta=meta)
                    except Exception:
                        log.exception("delivering dsn to account %s; will try again", row["account"])
                        self.dirty = True
                        return
                    log.info("dsn delivered account=%s msgid=%d", row["account"], stored["id"])
                else:
                    log.error("dropping dsn for account %s that no longer exists", row["account"])
                await self.db.write(lambda conn, i=row["id"]: conn.execute("delete from dsn_outbox where id = ?", (i,)))

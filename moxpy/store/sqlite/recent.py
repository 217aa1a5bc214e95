"""\\Recent claims (RFC 3501 2.3.2): the first session told of a message
has it as recent, no other does.

Claims are made in memory, on the event loop, so two sessions never claim
the same message; they are saved in the background (and at close), so a
crash may lose the last ones and those messages are recent once more.
"""

from __future__ import annotations

import asyncio
import logging

from ..db import Database
from . import mailboxes

log = logging.getLogger("moxpy.store")


class RecentClaims:
    def __init__(self, db: Database):
        self.db = db
        self._claimed: dict[int, int] = {}  # mailbox id -> highest UID claimed
        self._unsaved: set[int] = set()
        self._saving: asyncio.Task | None = None

    def claimed(self, mailbox_id: int) -> int:
        claimed = self._claimed.get(mailbox_id)
        if claimed is None:
            claimed = self._claimed[mailbox_id] = mailboxes.recent_uid(self.db, mailbox_id)
        return claimed

    def claim(self, mailbox_id: int, upto: int) -> int:
        before = self.claimed(mailbox_id)
        if upto > before:
            self._claimed[mailbox_id] = upto
            self._unsaved.add(mailbox_id)
            if self._saving is None:
                self._saving = asyncio.get_running_loop().create_task(self._save())
        return before

    def forget(self, mailbox_id: int) -> None:
        """A deleted mailbox's claims; a later mailbox may get the same id and starts without any."""
        self._claimed.pop(mailbox_id, None)

    def _take(self) -> list[tuple[int, int]]:
        claims = [(self._claimed[i], i) for i in self._unsaved if i in self._claimed]
        self._unsaved.clear()
        return claims

    async def _save(self) -> None:
        try:
            while self._unsaved:
                claims = self._take()
                await self.db.write(lambda conn: mailboxes.save_recent_tx(conn, claims))
        except Exception:
            log.exception("saving recent claims")
        finally:
            self._saving = None

    def save_sync(self) -> None:
        """Save what is unsaved, without an event loop (at close)."""
        claims = self._take()
        if claims:
            self.db.write_sync(lambda conn: mailboxes.save_recent_tx(conn, claims))

"""Change webhooks: every entry of an account's change log (store
Account.changes_since) becomes a webhook to the account's ChangeWebhook,
exactly once, and old entries are pruned after ChangesRetention.

One producer runs, in the process with the webhook worker. Per account it
reads the log from the position stored in the webhook queue's database and
queues the webhooks together with the new position in one transaction: a
crash before that commit leaves the position where it was, so the entries
are read again after the restart (none lost); after it, they are not
(none twice). The transaction also checks that the stored position is
still the one read, so a second producer could only skip, not repeat:
nodes sharing a PostgreSQL database each run one, and reading the
position takes a lock held to the commit (dialect.lock_tx), so each entry
becomes one webhook whichever node queues it.

It is woken by the account's change notifications (changes committed by
the other process arrive through Store.announce) and looks at every
account at least every RESCAN seconds anyway. An account whose
ChangeWebhook is set for the first time starts at its current position:
earlier changes are in the log (ChangesSince), not sent.

The payloads are the webapi's (its ChangesSince returns the same ones),
made by the function the server passes in, since the webapi's types build
on this package's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from .. import config as configlib
from ..store import (Account, AccountNotFound, ChangePosition, ChangePositionUnknown, ChangesExpired, LoggedChange,
                     Store)
from ..store.errors import log_failure
from ..store.webhooks import Webhook, WebhookStore, WebhookTransaction

log = logging.getLogger("moxpy.webhooks")

RESCAN = 1.0  # seconds between looks at every account at the most
BATCH = 100  # log entries read and queued per transaction
PRUNE_INTERVAL = 600.0  # seconds between prunes of an account's log at the most...
MIN_PRUNE_INTERVAL = 0.5  # ...and at the least, for a retention of seconds (in tests)


@dataclass
class ChangePayload:
    """The webhook for one log entry."""

    event: str  # the entry's event, as the webhook's event
    body: str  # the JSON payload
    message_id: str = ""  # messageNew: the message's Message-ID, for listings of the queue
    subject: str = ""  # messageNew: its subject


PayloadMaker = Callable[[Account, list[LoggedChange]], list[ChangePayload]]


class ChangeHooks:
    def __init__(self, config: configlib.Source, accounts: Store, store: WebhookStore, payloads: PayloadMaker,
                 on_queued: Callable[[], None] = lambda: None):
        self.config = config
        self.accounts = accounts
        self.store = store
        self.payloads = payloads
        self.on_queued = on_queued  # kicks the webhook worker
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._stopping = False
        self._subscribed: dict[str, tuple[Account, Callable[[], None]]] = {}  # name -> (account, its unsubscribe)
        self._next_prune: dict[str, float] = {}

    def kick(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="change webhooks")

    async def stop(self) -> None:
        self._stopping = True
        self.kick()
        if self._task is not None:
            await self._task
        for _, unsubscribe in self._subscribed.values():
            unsubscribe()
        self._subscribed.clear()

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                await self.step()
            except Exception as e:
                log_failure(log, "change webhooks", e)
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=RESCAN)
            except TimeoutError:
                pass

    async def step(self) -> None:
        """Queue the webhooks of every account's new log entries, and prune the logs that are due."""
        config = self.config.current()
        positions = self.store.change_positions()
        for name, settings in config.Accounts.items():
            if self._stopping:
                return
            try:
                account = self._account(name)
            except AccountNotFound:
                continue  # deleted since the config above was read
            hook = settings.ChangeWebhook
            try:
                if hook is not None and hook.URL:
                    await self._produce(name, account, hook, positions.get(name))
                elif name in positions:
                    # Without the setting nothing is sent; set again later, it starts afresh.
                    await self.store.transaction(lambda tx, name=name: tx.set_change_position(name, None))
            except Exception as e:
                if self._gone(name):
                    continue  # deleted (and closed) meanwhile: nothing is sent for it any more
                # The log is not pruned behind a producer that failed: those entries are still to be sent.
                log_failure(log, f"change webhooks account={name}", e)
                continue
            await self._prune(name, account, settings.ChangesRetention)

    def _gone(self, name: str) -> bool:
        """Whether the account was deleted since this step began."""
        return name not in self.config.current().Accounts

    def _account(self, name: str) -> Account:
        account = self.accounts.account(name)
        subscribed = self._subscribed.get(name)
        if subscribed is None or subscribed[0] is not account:  # new, or deleted and made again
            self._subscribed[name] = (account, account.subscribe(lambda change: self.kick()))
        return account

    async def _produce(self, name: str, account: Account, hook: configlib.ChangeWebhook,
                       position: ChangePosition | None) -> None:
        if position is None:
            _, now, _ = account.changes_since(None, 0)
            await self._advance(name, None, now, [], hook)
            return
        while not self._stopping:
            try:
                entries, after, more = account.changes_since(position, BATCH)
            except (ChangesExpired, ChangePositionUnknown) as e:
                _, now, _ = account.changes_since(None, 0)
                log.error("change webhooks account=%s: %s; continuing from the current position, changes in "
                          "between are not sent", name, e)
                await self._advance(name, position, now, [], hook)
                return
            if not entries:
                return
            wanted = [e for e in entries if not hook.Events or e.event in hook.Events]
            payloads = self.payloads(account, wanted) if wanted else []
            if not await self._advance(name, position, after, payloads, hook):
                return
            position = after
            if not more:
                return

    async def _advance(self, name: str, expected: ChangePosition | None, position: ChangePosition,
                       payloads: list[ChangePayload], hook: configlib.ChangeWebhook) -> bool:
        """Queue payloads and move the account's position from expected to position, in one transaction;
        False when the stored position was not expected (another producer moved it)."""

        def queue(tx: WebhookTransaction) -> bool:
            if tx.change_position(name) != expected:
                return False
            now = time.time()
            for p in payloads:
                tx.add(Webhook(id=0, account=name, url=hook.URL, authorization=hook.Authorization, is_incoming=False,
                               event=p.event, payload=p.body, submitted=now, next_attempt=now,
                               message_id=p.message_id, subject=p.subject))
            tx.set_change_position(name, position)
            return True

        if not await self.store.transaction(queue):
            log.warning("change webhooks account=%s: position moved by someone else, reading it again", name)
            return False
        if payloads:
            log.info("change webhooks queued account=%s count=%d", name, len(payloads))
            self.on_queued()
        return True

    async def _prune(self, name: str, account: Account, retention: float) -> None:
        now = time.time()
        if now < self._next_prune.get(name, 0.0):
            return
        self._next_prune[name] = now + min(PRUNE_INTERVAL, max(MIN_PRUNE_INTERVAL, retention / 2))
        try:
            pruned = await account.prune_changes(now - retention)
        except Exception:
            if not self._gone(name):
                log.exception("pruning the change log account=%s", name)
            return
        if pruned:
            log.debug("change log pruned account=%s entries=%d", name, pruned)

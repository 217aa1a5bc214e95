"""The storage interfaces of moxpy.store implemented over SQLite.

The account store: per account, an index database (index.db, WAL mode, one
group-commit writer, see store.db) and one file per message holding its
exact bytes (msg/, see store.files), under DATA/accounts/NAME/. Its modules,
one per concern: schema (tables and their upgrades), rows (rows as
records), mailboxes, messages, copymove (COPY and MOVE), flagchange, recent
(\\Recent claims), search (criteria as SQL), check (index against files),
and account, which ties them to the interface in store.accounts.

The server database (DATA/mox.db, see serverdb): queue (the delivery queue,
retired entries, suppressions, send limits, the DSN outbox, and the queue's
message files) and webhooks (the webhook queue), implementing
store.queue.QueueStore and store.webhooks.WebhookStore.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from ..accounts import Change
from .account import SQLiteAccount

__all__ = ["SQLiteStore", "SQLiteAccount"]


class SQLiteStore:
    """The accounts under a data directory, opened on first use."""

    def __init__(self, data_dir: str, *, readonly: bool = False):
        """readonly: open accounts only to read them (FileNotFoundError for one never opened before),
        beside a server that writes them."""
        self.directory = os.path.join(data_dir, "accounts")
        self.readonly = readonly
        if not readonly:
            os.makedirs(self.directory, exist_ok=True)
        self._accounts: dict[str, SQLiteAccount] = {}
        self.relay: Callable[[str, list[Change]], None] | None = None

    def account(self, name: str) -> SQLiteAccount:
        account = self._accounts.get(name)
        if account is None:
            account = SQLiteAccount(name, os.path.join(self.directory, name), readonly=self.readonly,
                                    relay=self._relay)
            self._accounts[name] = account
        return account

    def announce(self, name: str, changes: list[Change]) -> None:
        account = self._accounts.get(name)
        if account is not None:  # an account not open here has no subscribers here
            account.announce(changes)

    def _relay(self, name: str, changes: list[Change]) -> None:
        if self.relay is not None:
            self.relay(name, changes)

    def close(self) -> None:
        for account in self._accounts.values():
            account.close()
        self._accounts.clear()

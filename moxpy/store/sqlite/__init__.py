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

import asyncio
import logging
import os
import secrets
import shutil
from collections.abc import Callable, Collection

from ..accounts import AccountNotFound, Change
from .account import SQLiteAccount

__all__ = ["SQLiteStore", "SQLiteAccount"]

log = logging.getLogger("moxpy.store")

# An account directory being deleted is renamed to this prefix first: a name no account can have (names
# start with a letter or digit), so that the account can be made again at once, and a crash during the
# deletion leaves nothing that would be taken for the account.
REMOVED_PREFIX = ".removed-"


def _remove_tree(path: str) -> None:
    """Delete a directory with everything in it; what someone else deleted first is no error."""
    while os.path.lexists(path):
        try:
            shutil.rmtree(path)
        except FileNotFoundError:
            pass  # removed meanwhile by another process finishing the same deletion: go on with the rest


class OpenAccounts:
    """What every backend's Store does alike: the accounts open in this process, opened on first use (by
    _open, the backend's), forgotten when the config no longer names them, and the relaying of changes."""

    def __init__(self, readonly: bool, names: Callable[[], Collection[str]] | None):
        self.readonly = readonly
        self._accounts: dict[str, SQLiteAccount] = {}
        self.relay: Callable[[str, list[Change]], None] | None = None
        self.hear: Callable[[], None] | None = None
        self._names = names
        self._names_seen: Collection[str] | None = None

    def _open(self, name: str) -> SQLiteAccount:
        raise NotImplementedError

    def account(self, name: str) -> SQLiteAccount:
        if self._names is not None:
            names = self._names()
            if names is not self._names_seen:
                # The config changed: let go of what it no longer names, or names anew.
                self._names_seen = names
                for stale in [n for n, a in self._accounts.items() if n not in names or a.replaced()]:
                    log.info("account closed, removed or replaced meanwhile account=%s", stale)
                    self.forget(stale)
            if name not in names:
                raise AccountNotFound(name)
        account = self._accounts.get(name)
        if account is None:
            account = self._accounts[name] = self._open(name)
        return account

    def forget(self, name: str) -> bool:
        account = self._accounts.pop(name, None)
        if account is None:
            return False
        account.removed()
        account.close()
        return True

    async def start(self) -> None:
        """Begin hearing of the changes of other nodes sharing the storage (none share SQLite's)."""

    def catch_up(self) -> None:
        if self.hear is not None:
            self.hear()

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


class SQLiteStore(OpenAccounts):
    """The accounts under a data directory, opened on first use."""

    def __init__(self, data_dir: str, *, readonly: bool = False,
                 names: Callable[[], Collection[str]] | None = None):
        """readonly: open accounts only to read them (FileNotFoundError for one never opened before),
        beside a server that writes them; names: the server's account names, see Store.account."""
        super().__init__(readonly, names)
        self.directory = os.path.join(data_dir, "accounts")
        if not readonly:
            os.makedirs(self.directory, exist_ok=True)
            self._sweep_removed()

    def _open(self, name: str) -> SQLiteAccount:
        return SQLiteAccount(name, os.path.join(self.directory, name), readonly=self.readonly, relay=self._relay)

    async def remove(self, name: str) -> bool:
        self.forget(name)
        directory = os.path.join(self.directory, name)
        if not os.path.lexists(directory):
            return False
        doomed = os.path.join(self.directory, REMOVED_PREFIX + secrets.token_hex(8))
        os.rename(directory, doomed)
        await asyncio.get_running_loop().run_in_executor(None, _remove_tree, doomed)
        return True

    def _sweep_removed(self) -> None:
        """Finish deletions a crash interrupted."""
        for entry in os.listdir(self.directory):
            if entry.startswith(REMOVED_PREFIX):
                _remove_tree(os.path.join(self.directory, entry))

"""Storage of accounts' mail: a SQLite index per account plus one file per
message holding its exact bytes. See account.py for the data model and
db.py for how writes are made durable (group commit).

The store knows nothing of SMTP, IMAP or HTTP: listeners call it.
"""

from __future__ import annotations

import os

from .account import Account, Change, DeliveryMeta, MailboxNotFound, MessageNotFound

__all__ = ["Store", "Account", "Change", "DeliveryMeta", "MailboxNotFound", "MessageNotFound"]


class Store:
    """The accounts under a data directory, opened on first use."""

    def __init__(self, data_dir: str):
        self.directory = os.path.join(data_dir, "accounts")
        os.makedirs(self.directory, exist_ok=True)
        self._accounts: dict[str, Account] = {}

    def account(self, name: str) -> Account:
        account = self._accounts.get(name)
        if account is None:
            account = Account(name, os.path.join(self.directory, name))
            self._accounts[name] = account
        return account

    def close(self) -> None:
        for account in self._accounts.values():
            account.close()
        self._accounts.clear()

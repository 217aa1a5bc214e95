"""Storage of accounts' mail: mailboxes, messages, flags, change
notifications.

accounts.py is the interface listeners use: the records (Message,
Mailbox, ...) and the Store and Account protocols with their contracts.
sqlite/ is its implementation (a SQLite index per account plus one file
per message holding its exact bytes); open_store opens it. Beside them:
flags (flag names), mailboxname (which names are allowed), search (search
criteria), and, shared with the queue and webhooks, db (a SQLite database
with group commit) and files (message files).

The store knows nothing of SMTP, IMAP or HTTP: listeners call it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from .accounts import (CHANGE_EVENTS, DEFAULT_MAILBOXES, Account, AccountNotFound, Change, ChangePosition, ChangePositionUnknown,
                       ChangesExpired, Copied, DeliveryMeta, FlagError, LoggedChange, Mailbox, MailboxError,
                       MailboxExists, MailboxNotFound, MailboxStatus, Message, MessageFilter, MessageNotFound,
                       SearchError, Store, Summary, SummaryPage)
from .errors import STORAGE_FULL, STORAGE_UNAVAILABLE, storage_error, storage_full, storage_unavailable
from .sqlite import SQLiteStore

__all__ = ["open_store", "storage_error", "Store", "Account", "AccountNotFound", "Message", "Summary", "SummaryPage", "MessageFilter",
           "SearchError", "Mailbox", "MailboxStatus", "DeliveryMeta", "Change", "Copied", "MailboxNotFound",
           "MessageNotFound", "MailboxExists", "MailboxError", "FlagError", "DEFAULT_MAILBOXES", "STORAGE_FULL", "STORAGE_UNAVAILABLE", "storage_unavailable",
           "storage_full", "CHANGE_EVENTS", "ChangePosition", "ChangePositionUnknown", "ChangesExpired",
           "LoggedChange"]


def open_store(data_dir: str, *, readonly: bool = False,
               names: Callable[[], Collection[str]] | None = None) -> Store:
    """The accounts under a data directory (in DATA/accounts/).

    readonly: open accounts only to read them, beside a server that writes them; an account that
    was never opened by the server is FileNotFoundError. names: the server's current account names
    (a new collection object whenever they may have changed, as the config's Accounts of a reloaded
    config), for a store that refuses others (see Store.account).
    """
    return SQLiteStore(data_dir, readonly=readonly, names=names)

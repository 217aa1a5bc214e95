"""Account administration on a running server: create an account, set its
password, empty it, count its unread mail, delete it with everything it
had. The webapi's admin methods (webapi/admin.py) call these.

Config changes are provision/edit.py's, the functions `mox account`
uses, under its lock (edited()): the file is rewritten atomically and
both processes of the server pick the change up on their next look at
the config. A new account works at once over SMTP, IMAP and the webapi.

Deleting an account, in this order:

1. it leaves the config: logins fail and its addresses are unknown to SMTP
   from then on, and the store of either process refuses the name
   (Store.account);
2. the server's other process, when there is one, closes it
   (processes.Forget), its writes in flight committed, and says so;
3. this process's IMAP sessions of the account are told BYE, the account
   is closed, and its directory (mailboxes, messages, index) is deleted;
4. its rows in the server database go: queued and retired messages,
   webhooks, suppressions, the send log, tokens, webhook secrets, fetch
   rules (with what they fetched), OAuth clients.

A crash in between leaves an account that is gone from the config with
part of its data; AccountDelete of the name again finishes the job. So
does it for an account removed with `mox account del`, which keeps the
mail. A new account never takes over what was left of an earlier one of
the same name: edit.add_account refuses while its directory exists.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from . import config as configlib
from .store import Store
from .store.sqlite.serverdb import ServerDatabase

log = logging.getLogger("moxpy.accountadmin")

# RFC 6154 special-use mailboxes whose messages do not count as unread mail (as mox).
NOT_UNREAD = ("\\Trash", "\\Junk")


class RemovalIncomplete(Exception):
    """The server's other process did not confirm it closed the account; its data was left in place."""


class AccountAdmin:
    def __init__(self, config: configlib.Source, store: Store, serverdb: ServerDatabase,
                 forget_elsewhere: Callable[[str], Awaitable[bool]] | None = None):
        """serverdb: the server database, whose rows of a deleted account go with it. forget_elsewhere: has
        the server's other process close an account (False when it did not confirm); None with one process."""
        self.config = config
        self.store = store
        self.serverdb = serverdb
        self.forget_elsewhere = forget_elsewhere
        # One change at a time in this process; edit.edited() keeps other processes' apart too.
        self._lock = asyncio.Lock()

    def resolve(self, name: str) -> str | None:
        """The account Name means: an account of that name, else the account that logs in with that
        address; None for neither."""
        return _resolve(self.config.current(), name)

    def _path(self) -> str:
        return self.config.current().path

    async def create(self, name: str, password: str) -> tuple[str, str]:
        """Add an account for Name with password; (account name, address). See edit.new_account_address
        for the name and address it gets."""
        from .provision import edit

        def change() -> tuple[str, str]:
            with edit.edited(self._path()) as config:
                account, address = edit.new_account_address(config, name)
                if not password:
                    raise configlib.ConfigError("a password is required")
                edit.add_account(config, account, address, password)  # checks the password first
                return account, address

        async with self._lock:
            # In a thread: hashing the password takes tens of milliseconds. The account's storage is made at
            # its first use, as for `mox account add`.
            account, address = await asyncio.to_thread(change)
        log.info("account created account=%s address=%s", account, address)
        return account, address

    async def set_password(self, account: str, password: str) -> None:
        from .provision import edit

        def change() -> None:
            with edit.edited(self._path()) as config:
                edit.set_password(config, account, password)

        async with self._lock:
            await asyncio.to_thread(change)
        log.info("account password changed account=%s", account)

    async def delete(self, name: str) -> None:
        """Delete an account and everything it had (see above). Name: as resolve, or the name of an
        account no longer in the config whose data is still there. NoSuchAccount when there is nothing
        of that name; RemovalIncomplete when the other process did not close it."""
        from .provision import edit

        def change() -> str:
            with edit.edited(self._path()) as config:
                account = _resolve(config, name)
                if account is not None:
                    edit.delete_account(config, account)
                    return account
                leftover = name.strip()
                if edit.valid_account_name(leftover) and self._has_data(config, leftover):
                    return leftover
                raise edit.NoSuchAccount(f"no account {name.strip()!r}")

        async with self._lock:
            account = await asyncio.to_thread(change)
            if self.forget_elsewhere is not None and not await self.forget_elsewhere(account):
                log.error("account removed from the config, but the server's other process did not close it; its "
                          "data stays until AccountDelete is called again account=%s", account)
                raise RemovalIncomplete(f"account {account!r} is removed from the config, but its mail is still "
                                        "in the data directory: call AccountDelete again to remove it")
            had_files = await self.store.remove(account)
            removed = await self.serverdb.remove_account(account)
        log.info("account deleted account=%s files=%s %s", account, "removed" if had_files else "none",
                 " ".join(f"{name}={count}" for name, count in removed.items()))

    def _has_data(self, config: configlib.Config, account: str) -> bool:
        """Whether something of an account not in the config is left: its storage (directory or schema), or
        its rows in the server database."""
        from .store import backend

        return backend.account_stored(config, account) or self.serverdb.has_account_data(account)

    async def purge(self, account: str) -> int:
        """Remove every message of every mailbox of the account, keeping the mailboxes; how many."""
        removed = await self.store.account(account).purge()
        log.info("account purged account=%s messages=%d", account, removed)
        return removed

    def unread(self, account: str) -> int:
        """The account's messages without \\Seen, outside Trash and Junk."""
        acc = self.store.account(account)
        return sum(acc.mailbox_status(box.id).unseen for box in acc.mailboxes() if box.special_use not in NOT_UNREAD)


def _resolve(config: configlib.Config, name: str) -> str | None:
    name = name.strip()
    if name in config.Accounts:
        return name
    if "@" in name:
        return configlib.login_account(config, name)
    return None

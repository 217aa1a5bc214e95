"""The account administration methods of the webapi (scope admin).

They act on any account, named in the request, so only the admin login
(basic auth as "admin") and tokens with scope admin may call them; the
resource refuses everyone else before a method runs. Call.account is ""
for the admin login. The work is accountadmin.py's, and the config
changes provision/edit.py's, as for `mox account`; here requests become
calls and its errors become codes: accountExists, accountNotFound, and
user for what the request got wrong (the message says what).
"""

from __future__ import annotations

import contextlib

from .. import config as configlib
from ..accountadmin import AccountAdmin, RemovalIncomplete
from . import types as t
from .errors import WebapiError


class AdminMethods:
    """Mixed into the API, beside the account methods."""

    config: configlib.Source
    admin: AccountAdmin | None

    async def AccountExists(self, call, req: t.AccountExistsRequest) -> t.AccountExistsResult:
        config = self.config.current()
        name = req.Name.strip()
        found = name in config.Accounts or ("@" in name and any(
            address.lower() == name.lower() for acc in config.Accounts.values() for address in acc.Destinations))
        return t.AccountExistsResult(Found=found)

    async def AccountCreate(self, call, req: t.AccountCreateRequest) -> t.AccountCreateResult:
        with _errors():
            account, address = await self._admin().create(req.Name, req.Password)
        return t.AccountCreateResult(Name=account, Address=address)

    async def AccountSetPassword(self, call, req: t.AccountSetPasswordRequest) -> t.AccountSetPasswordResult:
        with _errors():
            await self._admin().set_password(self._account(req.Name), req.Password)
        return t.AccountSetPasswordResult()

    async def AccountDelete(self, call, req: t.AccountDeleteRequest) -> t.AccountDeleteResult:
        _required(req.Name)
        with _errors():
            await self._admin().delete(req.Name)
        return t.AccountDeleteResult()

    async def AccountPurge(self, call, req: t.AccountPurgeRequest) -> t.AccountPurgeResult:
        return t.AccountPurgeResult(Removed=await self._admin().purge(self._account(req.Name)))

    async def AccountUnreadCount(self, call, req: t.AccountUnreadCountRequest) -> t.AccountUnreadCountResult:
        return t.AccountUnreadCountResult(Unread=self._admin().unread(self._account(req.Name)))

    def _admin(self) -> AccountAdmin:
        if self.admin is None:
            raise WebapiError("server", "account administration is not available here")
        return self.admin

    def _account(self, name: str) -> str:
        """The account Name names (its name or login address); accountNotFound for none."""
        _required(name)
        account = self._admin().resolve(name)
        if account is None:
            raise WebapiError("accountNotFound", f"no account {name.strip()!r}")
        return account


def _required(name: str) -> None:
    if not name.strip():
        raise WebapiError("user", "Name is required: the name of an account, or its address")


@contextlib.contextmanager
def _errors():
    """Errors of the config edit as webapi errors."""
    from ..provision import edit

    try:
        yield
    except edit.AccountExists as e:
        raise WebapiError("accountExists", str(e)) from None
    except edit.NoSuchAccount as e:
        raise WebapiError("accountNotFound", str(e)) from None
    except RemovalIncomplete as e:
        raise WebapiError("server", str(e)) from None
    except configlib.ConfigError as e:
        raise WebapiError("user", str(e)) from None

"""The account administration methods of the webapi (scope admin).

They act on any account, named in the request, so only the admin login
(basic auth as "admin") and tokens with scope admin may call them; the
resource refuses everyone else before a method runs. Call.account is ""
for the admin login.
"""

from __future__ import annotations

from .. import config as configlib
from . import types as t


class AdminMethods:
    """Mixed into the API, beside the account methods."""

    config: configlib.Source

    async def AccountExists(self, call, req: t.AccountExistsRequest) -> t.AccountExistsResult:
        config = self.config.current()
        name = req.Name.strip()
        found = name in config.Accounts or ("@" in name and any(
            address.lower() == name.lower() for acc in config.Accounts.values() for address in acc.Destinations))
        return t.AccountExistsResult(Found=found)

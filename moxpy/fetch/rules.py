"""Managing fetch rules: what the admin webapi methods call.

Settings are checked (settings.py), the password sealed (secret.py)
before the rule is stored, and the collector woken so that a new or
changed rule runs within moments instead of after its interval.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from .. import config as configlib
from ..store.fetchrules import FetchRuleNotFound, FetchRuleRecord, FetchRuleStore, FetchSettings
from . import settings as settingslib
from .secret import PasswordBox

__all__ = ["FetchRules", "FetchRuleNotFound"]


class FetchRules:
    def __init__(self, config: configlib.Source, store: FetchRuleStore, box: PasswordBox,
                 wake: Callable[[], None] = lambda: None):
        self.config = config
        self.store = store
        self.box = box
        self.wake = wake

    def _check(self, settings: FetchSettings) -> FetchSettings:
        config = self.config.current()
        return settingslib.check(settings, config.Accounts, config.Localserve)

    async def add(self, settings: FetchSettings, password: str) -> int:
        """The new rule's ID; SettingsError when the settings or password cannot be used."""
        settings = self._check(settings)
        settingslib.check_password(password, required=True)
        rule_id = await self.store.add(settings, self.box.seal(password), time.time())
        self.wake()
        return rule_id

    async def update(self, rule_id: int, settings: FetchSettings, password: str) -> None:
        """Replace a rule's settings; an empty password keeps the stored one. FetchRuleNotFound,
        SettingsError."""
        if self.store.get(rule_id) is None:
            raise FetchRuleNotFound(rule_id)
        settings = self._check(settings)
        settingslib.check_password(password, required=False)
        await self.store.update(rule_id, settings, self.box.seal(password) if password else None)
        self.wake()

    async def delete(self, rule_id: int) -> None:
        """FetchRuleNotFound. A run in progress stops after the message it is at."""
        await self.store.delete(rule_id)

    def list(self, account: str = "") -> list[FetchRuleRecord]:
        return self.store.list(account)

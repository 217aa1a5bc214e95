"""The fetch rule methods of the webapi (scope admin): remote mailboxes
collected into accounts. They translate between the webapi's types and
moxpy/fetch/rules.py, which checks, stores and wakes the collector.
"""

from __future__ import annotations

from datetime import datetime, timezone

from ..fetch.rules import FetchRuleNotFound, FetchRules
from ..fetch.settings import SettingsError
from ..store.fetchrules import FetchRuleRecord, FetchSettings
from . import types as t
from .errors import WebapiError


def _settings(req: t.FetchRuleSettings) -> FetchSettings:
    return FetchSettings(account=req.Account, protocol=req.Protocol, host=req.Host, port=req.Port, tls=req.TLS,
                         tls_skip_verify=req.TLSSkipVerify, username=req.Username, mailbox=req.Mailbox,
                         delete_after_fetch=req.DeleteAfterFetch, interval=req.IntervalSeconds)


def _time(when: float) -> datetime | None:
    return datetime.fromtimestamp(when, timezone.utc) if when else None


def _rule(r: FetchRuleRecord) -> t.FetchRule:
    return t.FetchRule(ID=r.id, Account=r.account, Protocol=r.protocol, Host=r.host, Port=r.port, TLS=r.tls,
                       TLSSkipVerify=r.tls_skip_verify, Username=r.username, Mailbox=r.mailbox,
                       DeleteAfterFetch=r.delete_after_fetch, IntervalSeconds=r.interval,
                       Created=_time(r.created) or t.ZERO_TIME, Status=r.status, LastRun=_time(r.last_run),
                       LastError=r.last_error, LastFetched=r.last_fetched, Fetched=r.fetched, Skipped=r.skipped,
                       NextRun=_time(r.next_run))


class FetchRuleMethods:
    """Mixed into the API, beside the account methods."""

    fetch_rules: FetchRules | None

    def _fetching(self) -> FetchRules:
        if self.fetch_rules is None:
            raise WebapiError("server", "fetch rules are not available in this process")
        return self.fetch_rules

    async def FetchRuleAdd(self, call, req: t.FetchRuleAddRequest) -> t.FetchRuleAddResult:
        try:
            return t.FetchRuleAddResult(ID=await self._fetching().add(_settings(req), req.Password))
        except SettingsError as e:
            raise WebapiError("user", str(e)) from None

    async def FetchRuleUpdate(self, call, req: t.FetchRuleUpdateRequest) -> t.FetchRuleUpdateResult:
        try:
            await self._fetching().update(req.ID, _settings(req), req.Password)
        except SettingsError as e:
            raise WebapiError("user", str(e)) from None
        except FetchRuleNotFound:
            raise WebapiError("fetchRuleNotFound", f"no fetch rule with ID {req.ID}") from None
        return t.FetchRuleUpdateResult()

    async def FetchRuleDelete(self, call, req: t.FetchRuleDeleteRequest) -> t.FetchRuleDeleteResult:
        try:
            await self._fetching().delete(req.ID)
        except FetchRuleNotFound:
            raise WebapiError("fetchRuleNotFound", f"no fetch rule with ID {req.ID}") from None
        return t.FetchRuleDeleteResult()

    async def FetchRuleList(self, call, req: t.FetchRuleListRequest) -> t.FetchRuleListResult:
        return t.FetchRuleListResult(Rules=[_rule(r) for r in self._fetching().list(req.Account.strip())])

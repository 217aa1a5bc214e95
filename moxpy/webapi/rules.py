"""The delivery rule methods of the webapi: RuleCreate, RuleUpdate,
RuleDelete and RuleList (scope admin: they name the account in the
request).

Rules are validated by moxpy/rules.py, whose errors name the field of the
request that is wrong, and kept in the account's storage (store/rules.py),
where the next delivery finds them, in whichever process it runs.
"""

from __future__ import annotations

from .. import config as configlib
from .. import rules as rulelib
from .. import sieve
from ..store import Account, Store
from ..store.rules import RuleExists, RuleNotFound
from . import types as t
from .errors import WebapiError


def to_model(req: t.RuleCreateRequest | t.RuleUpdateRequest | t.Rule, name: str) -> rulelib.Rule:
    """The rule of a request (or a listed rule), named name, as moxpy.rules has it (not checked yet)."""
    return rulelib.Rule(
        name=name, join=req.Join, disabled=req.Disabled,
        conditions=tuple(rulelib.Condition(c.Field, c.Operation, c.Value) for c in req.Conditions),
        action=rulelib.Action(req.Action.Kind, req.Action.Value))


def _shown(rule: rulelib.Rule, position: int) -> t.Rule:
    return t.Rule(Name=rule.name, Join=rule.join, Disabled=rule.disabled,
                  Conditions=[t.RuleCondition(c.field, c.operation, c.value) for c in rule.conditions],
                  Action=t.RuleAction(rule.action.kind, rule.action.value), Position=position)


class RuleMethods:
    """Mixed into the API, beside the account methods."""

    config: configlib.Source
    store: Store

    def _rules_account(self, name: str) -> Account:
        if not name:
            raise WebapiError("user", "Account: required")
        if name not in self.config.current().Accounts:
            raise WebapiError("user", f"Account: no account named {name[:100]!r}")
        return self.store.account(name)

    def _checked(self, account: str, rule: rulelib.Rule) -> rulelib.Rule:
        config = self.config.current()
        try:
            return rulelib.check(rule, own_address=lambda address: configlib.may_send_as(config, account, address))
        except rulelib.RuleError as e:
            raise WebapiError("user", str(e)) from None

    async def RuleCreate(self, call, req: t.RuleCreateRequest) -> t.RuleCreateResult:
        account = self._rules_account(req.Account)
        rule = self._checked(req.Account, to_model(req, req.Name))
        if req.Position < 0:
            raise WebapiError("user", "Position: cannot be negative")
        if len(account.rules.list()) >= rulelib.MAX_RULES:
            raise WebapiError("user", f"Account: it has {rulelib.MAX_RULES} rules, the most an account may have")
        try:
            position = await account.rules.create(rule, req.Position)
        except RuleExists:
            raise WebapiError("ruleExists", f"Name: the account has a rule named {rule.name!r}") from None
        except ValueError as e:
            raise WebapiError("user", str(e)) from None
        return t.RuleCreateResult(Rule=_shown(rule, position))

    async def RuleUpdate(self, call, req: t.RuleUpdateRequest) -> t.RuleUpdateResult:
        account = self._rules_account(req.Account)
        if not req.Name:
            raise WebapiError("user", "Name: required")
        rule = self._checked(req.Account, to_model(req, req.NewName or req.Name))
        if req.Position < 0:
            raise WebapiError("user", "Position: cannot be negative")
        try:
            position = await account.rules.update(req.Name, rule, req.Position)
        except RuleNotFound:
            raise WebapiError("ruleNotFound", f"Name: the account has no rule named {req.Name[:200]!r}") from None
        except RuleExists:
            raise WebapiError("ruleExists", f"NewName: the account has a rule named {rule.name!r}") from None
        except ValueError as e:
            raise WebapiError("user", str(e)) from None
        return t.RuleUpdateResult(Rule=_shown(rule, position))

    async def RuleDelete(self, call, req: t.RuleDeleteRequest) -> t.RuleDeleteResult:
        account = self._rules_account(req.Account)
        if not req.Name:
            raise WebapiError("user", "Name: required")
        try:
            await account.rules.delete(req.Name)
        except RuleNotFound:
            raise WebapiError("ruleNotFound", f"Name: the account has no rule named {req.Name[:200]!r}") from None
        return t.RuleDeleteResult()

    async def RuleList(self, call, req: t.RuleListRequest) -> t.RuleListResult:
        account = self._rules_account(req.Account)
        if req.Format.lower() not in ("", "sieve"):
            raise WebapiError("user", f'Format: "sieve", or empty for none, not {req.Format[:40]!r}')
        rules = account.rules.list()
        script = sieve.export(rules, req.Account) if req.Format else ""
        return t.RuleListResult(Rules=[_shown(rule, i + 1) for i, rule in enumerate(rules)], Sieve=script)

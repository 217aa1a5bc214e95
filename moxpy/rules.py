"""Delivery rules: what they are, which ones are valid, and what a set of
them decides for an incoming message. No I/O: the store keeps rules
(store/rules.py), inbound.py applies the decision, sieve.py writes rules
as a Sieve script.

A rule has conditions on the message (a field, an operation, a value),
joined with "and" or "or", and one action. An account's rules run in
their order at delivery: every enabled rule whose conditions hold
contributes its action. The first matching storeIn or discard decides
where the message goes (later ones are ignored), markRead and
markFlagged accumulate flags, and every matching forward sends a copy.

Text comparisons ignore case. Header values are unfolded and their RFC
2047 encoded words decoded; From and AnyToOrCc compare the addresses
alone (local@domain), as Sieve's `address :all` does. A field with
several values (two Subject fields, three addresses in To and Cc) holds
when any value does; isNot and notContains are the negations of is and
contains, so they hold when no value matches, an absent field included
(as Sieve's `not header :is ...`, RFC 5228 5.7 and 5.8).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message as EmailMessage

from .message import parse as msgparse
from .message.address import AddressError, parse_address
from .store import mailboxname
from .store.accounts import MailboxError
from .store.rules import Action, Condition, Rule

__all__ = ["Action", "Condition", "Rule", "RuleError", "RuleSet", "Decision", "check", "decide"]

JOINS = ("and", "or")
FIELDS = ("From", "Subject", "AnyToOrCc", "Size")  # and "Header:" followed by a field name
HEADER_PREFIX = "Header:"
TEXT_OPERATIONS = ("is", "isNot", "contains", "notContains", "matches")
SIZE_OPERATIONS = ("is", "isNot", "lessThan", "greaterThan")
ACTIONS = ("discard", "markRead", "markFlagged", "storeIn", "forward")
FLAGS = {"markRead": "\\Seen", "markFlagged": "\\Flagged"}

MAX_RULES = 500  # per account
MAX_CONDITIONS = 50  # per rule
MAX_NAME = 200  # characters of a rule's name
MAX_VALUE = 1000  # characters of a condition's value
# RFC 5322 2.2: a field name is printable US-ASCII but the colon; 998 is the longest line (2.1.1).
_FIELD_NAME = re.compile(r"[\x21-\x39\x3b-\x7e]{1,998}")


class RuleError(ValueError):
    """A rule that is not valid; where names the field (e.g. "Conditions[1].Operation")."""

    def __init__(self, where: str, problem: str):
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem


def header_of(field_name: str) -> str:
    """The header field name of a Header:NAME field, "" for the other fields."""
    return field_name[len(HEADER_PREFIX):] if field_name.startswith(HEADER_PREFIX) else ""


def check(rule: Rule, *, own_address: Callable[[str], bool] = lambda address: False) -> Rule:
    """The rule validated and in its one spelling (field and operation names as documented, the inbox as
    "Inbox"); RuleError naming the first field that is wrong. own_address tells whether an address is the
    account's own, which a forward may not go to (it would come straight back)."""
    name = rule.name.strip()
    if not name:
        raise RuleError("Name", "required")
    if len(name) > MAX_NAME:
        raise RuleError("Name", f"longer than {MAX_NAME} characters")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        raise RuleError("Name", "contains a control character")
    join = rule.join or "and"
    if join not in JOINS:
        raise RuleError("Join", f'{_shown(join)} is not "and" or "or"')
    if len(rule.conditions) > MAX_CONDITIONS:
        raise RuleError("Conditions", f"more than {MAX_CONDITIONS} conditions")
    conditions = tuple(_check_condition(f"Conditions[{i}]", c) for i, c in enumerate(rule.conditions))
    return Rule(name=name, conditions=conditions, action=_check_action(rule.action, own_address), join=join,
                disabled=rule.disabled)


def _one_of(where: str, value: str, allowed: tuple[str, ...], what: str) -> str:
    """value as spelled in allowed, matched ignoring case; RuleError otherwise."""
    for known in allowed:
        if value.lower() == known.lower():
            return known
    raise RuleError(where, f"unknown {what} {_shown(value)}; one of " + ", ".join(allowed))


def _check_condition(where: str, condition: Condition) -> Condition:
    name = condition.field.strip()
    header = ""
    if name.lower().startswith(HEADER_PREFIX.lower()):
        header = name[len(HEADER_PREFIX):].strip()
        if not _FIELD_NAME.fullmatch(header):
            raise RuleError(f"{where}.Field", "Header: needs a header field name after the colon, "
                                               "printable ASCII without spaces or colons, e.g. Header:X-Spam-Flag")
        name = HEADER_PREFIX + header
    else:
        name = _one_of(f"{where}.Field", name, FIELDS, "field (or Header:NAME)")
    size = name == "Size"
    operation = _one_of(f"{where}.Operation", condition.operation.strip(),
                        SIZE_OPERATIONS if size else TEXT_OPERATIONS, "operation for " + ("Size" if size else "text"))
    value = condition.value
    if size:
        value = value.strip()
        if not value.isascii() or not value.isdigit():
            raise RuleError(f"{where}.Value", f"Size compares with a whole number of bytes, not {_shown(value)}")
        value = str(int(value))
    elif len(value) > MAX_VALUE:
        raise RuleError(f"{where}.Value", f"longer than {MAX_VALUE} characters")
    elif any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise RuleError(f"{where}.Value", "contains a control character (header values are unfolded)")
    return Condition(field=name, operation=operation, value=value)


def _check_action(action: Action, own_address: Callable[[str], bool]) -> Action:
    kind = _one_of("Action.Kind", action.kind.strip(), ACTIONS, "action")
    value = action.value.strip()
    if kind == "storeIn":
        if not value:
            raise RuleError("Action.Value", "storeIn needs the name of a mailbox")
        try:
            value = mailboxname.check(value)
        except MailboxError as e:
            raise RuleError("Action.Value", str(e)) from None
    elif kind == "forward":
        if not value:
            raise RuleError("Action.Value", "forward needs an email address")
        try:
            value = str(parse_address(value))
        except AddressError as e:
            raise RuleError("Action.Value", str(e)) from None
        if own_address(value):
            raise RuleError("Action.Value", f"{value} is an address of the account itself")
    elif value:
        raise RuleError("Action.Value", f"{kind} takes no value")
    return Action(kind=kind, value=value)


def _shown(text: str) -> str:
    return repr(text[:40] + ("..." if len(text) > 40 else ""))


# Matching.


@dataclass
class Decision:
    """What an account's rules decide for one message."""

    mailbox: str = ""  # where to store it; "" for where it was going anyway
    discard: bool = False  # store nothing (the message is still accepted)
    flags: list[str] = field(default_factory=list)  # flags it is stored with
    forwards: list[str] = field(default_factory=list)  # addresses that get a copy, in rule order, each once
    matched: list[str] = field(default_factory=list)  # names of the rules that matched, for the log


class _Values:
    """The values of a message's fields, each computed when a condition first asks for it."""

    def __init__(self, headers: EmailMessage, size: int):
        self.headers = headers
        self.size = size
        self._cache: dict[str, list[str]] = {}

    def text(self, name: str) -> list[str]:
        values = self._cache.get(name)
        if values is None:
            values = self._cache[name] = [v.casefold() for v in self._compute(name)]
        return values

    def _compute(self, name: str) -> list[str]:
        if name == "From":
            return [address for _, address in msgparse.addresses(self.headers, "From")]
        if name == "AnyToOrCc":
            return [address for header in ("To", "Cc") for _, address in msgparse.addresses(self.headers, header)]
        header = "subject" if name == "Subject" else header_of(name).lower()
        return [msgparse.decode_words(" ".join(msgparse.clean(str(value)).split()))
                for key, value in self.headers.raw_items() if key.lower() == header]


def glob_matches(parts: list[str], value: str) -> bool:
    """Whether value matches a glob of the matches operation, given as its text between the stars
    (glob.split("*")): the first part must start it, the last end it, the others follow in order in
    between. Placing each middle part as early as it fits is never worse than later, so one pass with
    str.find decides, where a regular expression of .* could backtrack for a long time on a long value."""
    if len(parts) == 1:
        return value == parts[0]
    first, last = parts[0], parts[-1]
    end = len(value) - len(last)
    if end < len(first) or not value.startswith(first) or not value.endswith(last):
        return False
    position = len(first)
    for part in parts[1:-1]:
        found = value.find(part, position, end)
        if found < 0:
            return False
        position = found + len(part)
    return True


def _test(condition: Condition) -> Callable[[_Values], bool]:
    """A function telling whether a message's values satisfy the (checked) condition."""
    op, name = condition.operation, condition.field
    if name == "Size":
        limit = int(condition.value)
        return {
            "is": lambda v: v.size == limit,
            "isNot": lambda v: v.size != limit,
            "lessThan": lambda v: v.size < limit,
            "greaterThan": lambda v: v.size > limit,
        }[op]
    wanted = condition.value.casefold()
    if op == "matches":
        parts = wanted.split("*")
        return lambda v: any(glob_matches(parts, value) for value in v.text(name))
    if op in ("is", "isNot"):
        found: Callable[[_Values], bool] = lambda v: wanted in v.text(name)
    else:
        found = lambda v: any(wanted in value for value in v.text(name))
    return found if op in ("is", "contains") else (lambda v: not found(v))


class RuleSet:
    """An account's rules, in order, ready to decide on messages; made once per change of the rules."""

    def __init__(self, rules: list[Rule]):
        self.rules = rules
        self._active = [(rule, [_test(c) for c in rule.conditions]) for rule in rules if not rule.disabled]

    def __bool__(self) -> bool:
        return bool(self._active)

    @property
    def conditions(self) -> int:
        """How many conditions the enabled rules have: deciding costs up to that many passes over the
        header section."""
        return sum(len(tests) for _, tests in self._active)

    def decide(self, headers: EmailMessage, size: int) -> Decision:
        """The decision for a message with this header section and size in octets."""
        values = _Values(headers, size)
        decision = Decision()
        decided = False
        for rule, tests in self._active:
            if not tests:
                holds = True
            elif rule.join == "or":
                holds = any(test(values) for test in tests)
            else:
                holds = all(test(values) for test in tests)
            if not holds:
                continue
            decision.matched.append(rule.name)
            kind = rule.action.kind
            if kind in ("storeIn", "discard"):
                if not decided:
                    decided = True
                    decision.discard = kind == "discard"
                    decision.mailbox = rule.action.value
            elif kind in FLAGS:
                if FLAGS[kind] not in decision.flags:
                    decision.flags.append(FLAGS[kind])
            elif rule.action.value.lower() not in (a.lower() for a in decision.forwards):
                decision.forwards.append(rule.action.value)
        return decision


def decide(rules: list[Rule], headers: EmailMessage, size: int) -> Decision:
    """What the rules decide for a message (RuleSet, for rules used once)."""
    return RuleSet(rules).decide(headers, size)

"""Storage of an account's delivery rules: the interface a backend
implements (SQLite: store/sqlite/rules.py, in the account's index.db).

The records of a rule are here; their validation and what they decide
are moxpy/rules.py's. The store keeps them in order and counts their changes,
so the process that delivers mail (another than the one that changes the
rules, in a server of two) can tell with one cheap read per delivery
whether the rules it holds are still current.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Condition:
    field: str  # From, Subject, AnyToOrCc, Size or Header:NAME
    operation: str  # is, isNot, contains, notContains, matches; for Size is, isNot, lessThan, greaterThan
    value: str  # text to compare with, a glob with * for matches, or for Size a number of bytes


@dataclass(frozen=True)
class Action:
    kind: str  # discard, markRead, markFlagged, storeIn or forward
    value: str = ""  # storeIn: the mailbox; forward: the address; else empty


@dataclass(frozen=True)
class Rule:
    name: str  # unique in the account
    conditions: tuple[Condition, ...]  # none: the rule matches every message
    action: Action
    join: str = "and"  # "and": every condition must hold; "or": one is enough
    disabled: bool = False  # kept, but not applied


class RuleExists(Exception):
    """A rule of that name is there already."""


class RuleNotFound(Exception):
    """No rule has that name."""


class RuleStore(Protocol):
    """The delivery rules of one account, in their order: positions count from 1, without gaps."""

    def version(self) -> int:
        """A number that changes with every change of the rules (it never goes back)."""
        ...

    def list(self) -> list[Rule]:
        """The rules in order, disabled ones included."""
        ...

    async def create(self, rule: Rule, position: int = 0) -> int:
        """Add a rule at position (0: after the last; beyond the last: ValueError), moving those from
        there on down one; its position. RuleExists for a name in use."""
        ...

    async def update(self, name: str, rule: Rule, position: int = 0) -> int:
        """Replace the rule named name by rule (which may have another name), at the same position or,
        when not 0, at position (ValueError beyond the last); its position. RuleNotFound, RuleExists
        (the new name is another rule's)."""
        ...

    async def delete(self, name: str) -> None:
        """Remove a rule, moving those after it up one. RuleNotFound."""
        ...

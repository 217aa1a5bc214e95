"""Storage of an account's delivery rules: the interface a backend
implements (SQLite: store/sqlite/rules.py, in the account's index.db).

The rules themselves, their validation and what they decide are
moxpy/rules.py's; the store keeps them in order and counts their changes,
so the process that delivers mail (another than the one that changes the
rules, in a server of two) can tell with one cheap read per delivery
whether the rules it holds are still current.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..rules import Rule


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

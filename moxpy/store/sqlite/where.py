"""The WHERE clause of an operator's filter (queue and webhook listings,
holds, kicks, drops), built one condition at a time with its parameters."""

from __future__ import annotations

from collections.abc import Sequence


class Conditions:
    def __init__(self) -> None:
        self._clauses: list[str] = []
        self._params: list = []

    def add(self, clause: str, *params) -> None:
        self._clauses.append(clause)
        self._params.extend(params)

    def ids(self, ids: Sequence[int]) -> None:
        if ids:
            self.add(f"id in ({','.join('?' * len(ids))})", *ids)

    def sql(self) -> tuple[str, list]:
        """The conditions joined with "and" (a true one for none: everything matches), and their parameters."""
        # "1 = 1": PostgreSQL takes only a boolean in WHERE.
        return " and ".join(self._clauses) or "1 = 1", self._params

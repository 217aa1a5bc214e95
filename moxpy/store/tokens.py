"""Storage of API tokens: the record kept per token and the interface a
backend implements (SQLite: store/sqlite/tokens.py, in mox.db).

Only the SHA-256 of a token is kept: the token itself is shown once, when
it is made, and cannot be recovered from the store. What a token may do
(its scopes) and how it is checked are moxpy/tokens.py's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass
class TokenRecord:
    id: int  # never reused; 0 until stored
    account: str  # the account the token acts for
    name: str  # free text, to tell tokens apart
    scopes: list[str]  # what it may do, see moxpy/tokens.py
    created: float  # unix time
    expires: float  # unix time; 0 for never
    token_hash: bytes = field(repr=False, default=b"")  # SHA-256 of the token
    revoked: float = 0.0  # unix time it was revoked; 0 while in force


class TokenStore(Protocol):
    async def add(self, record: TokenRecord) -> int:
        """Store a new token; its id."""
        ...

    def by_hash(self, token_hash: bytes) -> TokenRecord | None:
        """The token with this hash, revoked and expired ones included."""
        ...

    def list(self, account: str = "") -> list[TokenRecord]:
        """The tokens of an account (every account's when empty), oldest first."""
        ...

    async def revoke(self, token_id: int, account: str, when: float) -> bool:
        """Revoke a token of the account (of any account when empty); False when there is no such token.
        Revoking a revoked token keeps its first revocation time."""
        ...

    async def remove_account(self, account: str) -> int:
        """Forget the tokens of a removed account, so that an account made later under its name has
        none of them; how many."""
        ...

"""Storage of OAuth clients and of the keys that sign access tokens: the
records kept and the interfaces a backend implements (SQLite:
store/sqlite/oauth.py, in mox.db).

A client's secret is kept only as its SHA-256, as API tokens are: it is
shown once, when the client is made. A signing key's private half is
kept in the clear, as signing needs it, in the server's own database.
What clients may do and how tokens are issued and checked is
moxpy/oauth's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass
class ClientRecord:
    id: str  # the client_id, "mxc_..."; never reused
    account: str  # the account its access tokens act for
    name: str  # free text, to tell clients apart
    scopes: list[str]  # the most its tokens may be granted, see moxpy/tokens.py
    created: float  # unix time
    secret_hash: bytes = field(repr=False, default=b"")  # SHA-256 of the client secret
    removed: float = 0.0  # unix time it was removed; 0 while in force


@dataclass
class SigningKey:
    kid: str  # key id, in the JWT header and the JWKS; the key's RFC 7638 thumbprint
    created: float  # unix time
    private_pem: bytes = field(repr=False, default=b"")  # PKCS#8 PEM of the private key
    retired: float = 0.0  # unix time a newer key took over signing; 0 for the key that signs


class ClientStore(Protocol):
    async def add(self, record: ClientRecord) -> None:
        """Store a new client."""
        ...

    def get(self, client_id: str) -> ClientRecord | None:
        """The client with this id, removed ones included."""
        ...

    def list(self, account: str = "") -> list[ClientRecord]:
        """The clients of an account (every account's when empty), oldest first, removed ones included."""
        ...

    async def remove_account(self, account: str) -> int:
        """Delete the clients of a removed account, so that an account made later under its name has none of
        them (and no access token of theirs works); how many."""
        ...

    async def remove(self, client_id: str, when: float) -> bool:
        """Remove a client; False when there is no such client. Removing a removed client keeps its first
        removal time."""
        ...


class SigningKeyStore(Protocol):
    def keys(self) -> list[SigningKey]:
        """Every key kept, the one that signs (if any) first, then retired ones, newest first."""
        ...

    async def add_first(self, key: SigningKey) -> SigningKey:
        """Store key as the signing key unless there is one already; the signing key."""
        ...

    async def rotate(self, key: SigningKey, when: float) -> None:
        """Retire the signing key at when and make key the signing key."""
        ...

    async def drop_retired(self, before: float) -> int:
        """Delete the keys retired before the given time; how many."""
        ...

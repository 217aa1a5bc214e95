"""OAuth clients: their ids and secrets, making them, checking a client's
secret, and the scopes a token request is granted.

A client id is "mxc_" and 12 random bytes, a secret "mxs_" and 32, both
in URL-safe base64 (RFC 4648 5, unpadded): neither needs escaping in a
form or in basic auth, and the prefixes tell them apart from API tokens
(mxt_) in a log or a repository. Only the secret's SHA-256 is stored: with
256 random bits a fast hash is as safe as a slow one, so checking a
secret costs no password hash.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

from .. import tokens as tokenlib
from ..store.oauth import ClientRecord, ClientStore

ID_PREFIX = "mxc_"
SECRET_PREFIX = "mxs_"


class ClientError(Exception):
    """Client authentication failed: unknown or removed client, or a wrong secret; the message is for the log."""


class ScopeError(Exception):
    """A requested scope is unknown, or one the client may not be granted; the message says which."""


def _random(prefix: str, size: int) -> str:
    return prefix + base64.urlsafe_b64encode(secrets.token_bytes(size)).rstrip(b"=").decode()


def secret_hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).digest()


async def create(store: ClientStore, account: str, scopes: list[str], name: str = "",
                 now: float | None = None) -> tuple[ClientRecord, str]:
    """Make and store a client; its record and its secret, which is not kept."""
    secret = _random(SECRET_PREFIX, 32)
    record = ClientRecord(id=_random(ID_PREFIX, 12), account=account, name=name, scopes=scopes,
                          created=time.time() if now is None else now, secret_hash=secret_hash(secret))
    await store.add(record)
    return record, secret


def authenticate(store: ClientStore, client_id: str, secret: str) -> ClientRecord:
    """The client whose id and secret these are; ClientError when there is none or the secret is wrong."""
    record = store.get(client_id) if client_id.startswith(ID_PREFIX) else None
    digest = secret_hash(secret)
    if record is None:
        raise ClientError("unknown client")
    if not hmac.compare_digest(record.secret_hash, digest):
        raise ClientError(f"wrong secret for client {record.id}")
    if record.removed:
        raise ClientError(f"client {record.id} removed")
    return record


def grant(requested: str, allowed: list[str]) -> list[str]:
    """The scopes to grant for a request's scope parameter (RFC 6749 3.3: space-separated): all the client's
    when empty. A scope the client lacks is refused rather than left out, so a client never gets a token
    that does less than it asked for without being told."""
    words = requested.split()
    if not words:
        return [s for s in tokenlib.SCOPES if s in allowed]
    for word in words:
        if word not in tokenlib.SCOPES:
            raise ScopeError(f"unknown scope {word!r}; scopes are {' '.join(tokenlib.SCOPES)}")
        if word not in allowed:
            raise ScopeError(f"scope {word!r} is not one of the client's: {' '.join(allowed)}")
    return [s for s in tokenlib.SCOPES if s in words]

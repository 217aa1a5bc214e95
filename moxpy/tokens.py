"""API tokens: what they look like, their scopes, and turning a bearer
credential into the account and scopes it acts with.

A token is "mxt_" and 32 random bytes in URL-safe base64 (RFC 4648 5,
unpadded): the prefix lets secret scanners and people recognise one in a
log or a repository. Only its SHA-256 is stored (store/tokens.py): with
256 random bits a fast hash is as safe as a slow one, and a lookup by hash
needs no per-token work. A caller with the account's password has every
scope but admin; a token only those it was given. The admin login
(basic auth as "admin" with the password of AdminPasswordFile) has only
admin: account administration, not an account's mail.

authenticate() is the one place a bearer credential is checked. Besides
these tokens it takes OAuth access tokens, JWTs signed by the server
(moxpy/oauth/accesstoken.py), which yield the same Principal: the
client's account with the scopes granted to it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Protocol

from . import config as configlib
from . import durations
from .store.tokens import TokenRecord, TokenStore

PREFIX = "mxt_"

# Scope: what it allows (docs, CLI help). The methods needing each are declared in webapi/types.py.
SCOPES: dict[str, str] = {
    "send": "Send",
    "read": "list and search mailboxes and messages, MessageGet without bodies, ChangesSince",
    "read.body": "message bodies: MessageGet's Text and HTML, MessageRawGet, MessagePartGet, MessageTextGet, "
                 "and searching in bodies",
    "modify": "flags, moving and deleting messages, creating, renaming and deleting mailboxes",
    "suppressions": "the suppression list",
    "tokens": "TokenCreate, TokenList, TokenRevoke (of the account's own tokens)",
    "admin": "account administration",
    "newsletter:lists": "ListCreate, ListGet, ListUpdate, ListDelete, ListsList, ListMembers",
    "newsletter:members": "the member endpoints under /newsletter/: subscribe, unsubscribe tokens, preferences",
    "newsletter:send.write": "POST /api/send-jobs and cancelling send jobs",
    "newsletter:send.read": "GET /api/send-jobs/{id}",
}
ALL_SCOPES = frozenset(SCOPES)


class TokenError(Exception):
    """A bearer credential that is not (or no longer) valid; the message says why, for the log only."""


@dataclass(frozen=True)
class Principal:
    """Who a call acts for and what it may do. scopes None: the account's password, every scope but admin,
    which only the admin login and tokens made with it (or by the operator's `mox.py token add`) have."""

    account: str  # "" for the admin login, which acts for no account
    scopes: frozenset[str] | None = None
    token_id: int = 0  # the API token's id, for calls with one
    client_id: str = ""  # the OAuth client's id, for calls with an access token of one

    def allows(self, scope: str) -> bool:
        if self.scopes is None:
            return scope != "admin"
        return scope in self.scopes

    @property
    def viewer(self) -> bool:
        """Reads envelopes and metadata, never a body."""
        return not self.allows("read.body")


class AccessTokenVerifier(Protocol):
    """What checks OAuth access tokens (oauth/accesstoken.py's AccessTokens)."""

    def verify(self, token: str, config: configlib.Config) -> Principal:
        """The principal of an access token; TokenError when it is refused."""
        ...


ADMIN = Principal(account="", scopes=frozenset({"admin"}))  # the admin login
ADMIN_LOGIN = "admin"  # its basic auth user name; never an account's login, which is an email address


def new_token() -> str:
    return PREFIX + base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()


def parse_scopes(text: str | list[str]) -> list[str]:
    """Scopes from "a,b" or a list: known, without duplicates, in the order of SCOPES; ValueError otherwise."""
    words = text.split(",") if isinstance(text, str) else list(text)
    words = [w.strip() for w in words if w.strip()]
    if not words:
        raise ValueError(f"no scope given; scopes are {', '.join(SCOPES)}")
    unknown = [w for w in words if w not in SCOPES]
    if unknown:
        raise ValueError(f"unknown scope {unknown[0]!r}; scopes are {', '.join(SCOPES)}")
    return [s for s in SCOPES if s in words]


MAX_LIFETIME = 10 * 365 * 86400.0  # seconds; a longer expiry is a mistake (and past what dates hold)


def parse_duration(text: str) -> float:
    """Seconds of a duration such as "24h" or "1h30m"; "" is 0 (never expires). ValueError when malformed."""
    text = text.strip()
    if not text:
        return 0.0
    # The units that make sense for a token: "90s", "30m", "1h30m", "720h".
    total = durations.seconds(text, ("h", "m", "s"))
    if total is None:
        raise ValueError(f"bad duration {text!r}: use a number with h, m or s, e.g. 24h, 90m, 1h30m")
    if total <= 0:
        raise ValueError(f"bad duration {text!r}: must be more than zero")
    if total > MAX_LIFETIME:
        raise ValueError(f"bad duration {text!r}: at most {MAX_LIFETIME // 3600:.0f}h (10 years); empty for no expiry")
    return total


async def create(store: TokenStore, account: str, scopes: list[str], name: str = "", lifetime: float = 0.0,
                 now: float | None = None) -> tuple[TokenRecord, str]:
    """Make and store a token; its record and the token itself, which is not kept."""
    now = time.time() if now is None else now
    token = new_token()
    record = TokenRecord(id=0, account=account, name=name, scopes=scopes, created=now,
                         expires=now + lifetime if lifetime else 0.0, token_hash=token_hash(token))
    record.id = await store.add(record)
    return record, token


def authenticate(credential: str, store: TokenStore, config: configlib.Config, now: float | None = None,
                 access: AccessTokenVerifier | None = None) -> Principal:
    """The principal of a bearer credential, an API token or (with access) an OAuth access token; TokenError
    when it is unknown, revoked, expired, of a removed client or for an account that no longer exists."""
    if credential.count(".") == 2:
        # RFC 7515 7.1: a JWS in compact form is three base64url parts joined by dots, never an "mxt_" token.
        if access is None:
            raise TokenError("access tokens are not accepted here")
        return access.verify(credential, config)
    if not credential.startswith(PREFIX):
        raise TokenError("not a token")
    digest = token_hash(credential)
    record = store.by_hash(digest)
    # The lookup is by a hash of 256 random bits; comparing again in constant time costs nothing.
    if record is None or not hmac.compare_digest(record.token_hash, digest):
        raise TokenError("unknown token")
    now = time.time() if now is None else now
    if record.revoked:
        raise TokenError(f"token {record.id} revoked")
    if record.expires and record.expires <= now:
        raise TokenError(f"token {record.id} expired")
    if record.account not in config.Accounts:
        raise TokenError(f"token {record.id}: account {record.account!r} no longer exists")
    return Principal(account=record.account, scopes=frozenset(record.scopes) & ALL_SCOPES, token_id=record.id)

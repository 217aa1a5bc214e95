"""Access tokens: JWTs (RFC 7519) in the profile of RFC 9068, signed with
ES256 by the server's current key (keys.py), and checking them.

Header: alg ES256, typ "at+jwt", kid. Claims:

iss        the issuer, the config's OAuth.Issuer (default https://HOSTNAME)
aud        the webapi: the issuer followed by /webapi
sub        the client id (RFC 9068 2.2: no resource owner in this grant)
client_id  the client id
tenant     the account the token acts for
scope      the granted scopes, space-separated
iat, exp   issued at and expiry, unix seconds; exp is iat plus OAuth.TokenLifetime
jti        a random id of the token

A token is refused unless its signature verifies with one of our keys by
its kid, with ES256 and no other algorithm, its typ, iss and aud are ours,
it has not expired (a few seconds of leeway), its client is not removed
and still belongs to the account, and the account exists. It then has its
granted scopes that the client still has: narrowing a client narrows its
tokens at once. A token whose signature verified is remembered until it
expires, so a service calling with the same token pays for the parsing
and the signature once; the client, the account, the expiry, the issuer
and the key are checked again at every call.
"""

from __future__ import annotations

import functools
import math
import secrets
import time

from .. import config as configlib
from .. import tokens as tokenlib
from ..store.oauth import ClientRecord, ClientStore, SigningKeyStore
from .keys import ALGORITHM, LEEWAY, KeyRing

TYPE = "at+jwt"  # RFC 9068 2.1
REQUIRED = ["iss", "aud", "sub", "exp", "iat", "jti", "client_id", "scope", "tenant"]
# Tokens whose signature has been verified, kept until they expire: a service uses one token for many calls,
# and parsing and verifying one costs more than the rest of a small call.
VERIFIED_MAX = 4096


@functools.cache
def _jwt():
    """PyJWT, loaded at the first token issued or checked."""
    import jwt

    return jwt


def issuer(config: configlib.Config) -> str:
    return config.OAuth.Issuer or f"https://{config.Hostname}"


def audience(config: configlib.Config) -> str:
    return issuer(config).rstrip("/") + "/webapi"


class AccessTokens:
    """Issuing and checking the access tokens of the clients in a store, with the keys of another."""

    def __init__(self, source: configlib.Source, clients: ClientStore, keys: SigningKeyStore):
        self.source = source
        self.clients = clients
        self.keys = KeyRing(keys)
        self._verified: dict[str, tuple[str, dict]] = {}  # token: (kid, claims)

    async def issue(self, client: ClientRecord, scopes: list[str]) -> tuple[str, int]:
        """A new access token for the client with these scopes, and its lifetime in seconds."""
        config = self.source.current()
        lifetime = math.ceil(config.OAuth.TokenLifetime)
        kid, private = await self.keys.signing_key(lifetime)
        issued = int(time.time())
        claims = {
            "iss": issuer(config), "aud": audience(config), "sub": client.id, "client_id": client.id,
            "tenant": client.account, "scope": " ".join(scopes), "iat": issued, "exp": issued + lifetime,
            "jti": secrets.token_urlsafe(16),
        }
        token = _jwt().encode(claims, private, algorithm=ALGORITHM, headers={"kid": kid, "typ": TYPE})
        return token, lifetime

    def jwks(self) -> dict:
        return self.keys.jwks(self.source.current().OAuth.TokenLifetime)

    def verify(self, token: str, config: configlib.Config) -> tokenlib.Principal:
        """The principal of an access token; TokenError saying why it is refused."""
        now = time.time()
        verified = self._verified.get(token)
        if verified is None:
            claims = self._decode(token, config)
        else:
            # What may have changed since it was verified: the time, the config, the keys.
            kid, claims = verified
            if claims["exp"] + LEEWAY < now:
                del self._verified[token]
                raise tokenlib.TokenError("access token expired")
            if claims["iss"] != issuer(config) or claims["aud"] != audience(config):
                raise tokenlib.TokenError("access token of another issuer or audience")
            if self.keys.public_key(kid, config.OAuth.TokenLifetime) is None:
                raise tokenlib.TokenError(f"access token signed by unknown key {kid!r}")
        client_id, account, scope = claims["client_id"], claims["tenant"], claims["scope"]
        if not all(isinstance(v, str) for v in (client_id, account, scope)):
            raise tokenlib.TokenError("access token claims client_id, tenant and scope must be strings")
        client = self.clients.get(client_id)
        if client is None or client.removed:
            raise tokenlib.TokenError(f"access token of removed client {client_id}")
        if client.account != account:
            raise tokenlib.TokenError(f"access token for account {account!r} of a client of another account")
        if account not in config.Accounts:
            raise tokenlib.TokenError(f"access token: account {account!r} no longer exists")
        scopes = frozenset(scope.split()) & frozenset(client.scopes) & tokenlib.ALL_SCOPES
        return tokenlib.Principal(account=account, scopes=scopes, client_id=client_id)

    def _decode(self, token: str, config: configlib.Config) -> dict:
        """The claims of a token whose header, signature and registered claims check out; remembered."""
        jwt = _jwt()
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise tokenlib.TokenError("malformed access token") from None
        # Checked here too, before any key is looked up: "none" or another algorithm never gets further.
        if header.get("alg") != ALGORITHM:
            raise tokenlib.TokenError(f"access token algorithm {header.get('alg')!r} is not {ALGORITHM}")
        if header.get("typ") != TYPE:
            raise tokenlib.TokenError(f"access token type {header.get('typ')!r} is not {TYPE}")
        kid = header.get("kid")
        key = self.keys.public_key(kid, config.OAuth.TokenLifetime) if isinstance(kid, str) else None
        if key is None:
            raise tokenlib.TokenError(f"access token signed by unknown key {kid!r}")
        try:
            claims = jwt.decode(token, key, algorithms=[ALGORITHM], audience=audience(config), issuer=issuer(config),
                                leeway=LEEWAY, options={"require": REQUIRED})
        except jwt.ExpiredSignatureError:
            raise tokenlib.TokenError("access token expired") from None
        except jwt.InvalidTokenError as e:
            raise tokenlib.TokenError(f"access token refused: {e}") from None
        if not isinstance(claims["exp"], int | float):
            raise tokenlib.TokenError("access token exp is not a number")
        if len(self._verified) >= VERIFIED_MAX:
            now = time.time()
            self._verified = {t: v for t, v in self._verified.items() if v[1]["exp"] + LEEWAY >= now}
            if len(self._verified) >= VERIFIED_MAX:
                self._verified.clear()
        self._verified[token] = (kid, claims)
        return claims

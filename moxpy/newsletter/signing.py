"""The signed tokens in confirmation and unsubscribe links.

A token is a JWT (RFC 7519) signed with HMAC-SHA256 (RFC 7518 3.2) by a
key of the server's own (keyfile.py, `newsletter.key` in the data
directory): it names what it is for, the list and the address, and when it
expires, so a link works without a login and cannot be made for another
list or address. The audience claim keeps a token of one purpose from
being taken for another (an unsubscribe token confirms nothing). Whether
a token is still in force beyond its signature and expiry (a
confirmation's nonce, used once) is the caller's to check against the
member.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from .. import keyfile

KEY_FILE = "newsletter.key"
ISSUER = "moxpy newsletter"
CONFIRM = "confirm"  # follows the confirmation link; single use, by its nonce
UNSUBSCRIBE = "unsubscribe"  # unsubscribes from one list; in every message of the list, so long-lived
CONFIRM_LIFETIME = 7 * 24 * 3600  # seconds
UNSUBSCRIBE_LIFETIME = 400 * 24 * 3600  # a year of archived messages, and some
_ALGORITHM = "HS256"


class TokenInvalid(Exception):
    """A token that is not one of ours, for another purpose, or expired; the message says which, for logs."""


@dataclass(frozen=True)
class Claims:
    purpose: str
    list_id: int
    email: str
    nonce: str  # of a confirmation token; "" for others
    expires: float


class Signer:
    def __init__(self, data_dir: str):
        self._path = os.path.join(data_dir, KEY_FILE)
        self._key: bytes | None = None

    def _secret(self) -> bytes:
        if self._key is None:
            self._key = keyfile.load(self._path)
        return self._key

    def sign(self, purpose: str, list_id: int, email: str, lifetime: int, nonce: str = "",
             now: float | None = None) -> str:
        import jwt  # PyJWT, loaded with the first link: a server that sends no list mail never needs it

        now = time.time() if now is None else now
        claims = {"iss": ISSUER, "aud": purpose, "lst": list_id, "sub": email, "iat": int(now),
                  "exp": int(now) + lifetime}
        if nonce:
            claims["non"] = nonce
        return jwt.encode(claims, self._secret(), algorithm=_ALGORITHM)

    def verify(self, token: str, purpose: str) -> Claims:
        """The claims of a token for purpose; TokenInvalid otherwise."""
        import jwt

        try:
            claims = jwt.decode(token, self._secret(), algorithms=[_ALGORITHM], audience=purpose, issuer=ISSUER,
                                options={"require": ["exp", "aud", "iss", "sub", "lst"]})
        except jwt.ExpiredSignatureError:
            raise TokenInvalid("expired") from None
        except jwt.InvalidTokenError as e:
            raise TokenInvalid(f"invalid: {e}") from None
        if not isinstance(claims["lst"], int) or not isinstance(claims["sub"], str):
            raise TokenInvalid("invalid claims")
        return Claims(purpose, claims["lst"], claims["sub"], str(claims.get("non", "")), float(claims["exp"]))

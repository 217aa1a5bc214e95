"""The keys that sign access tokens: ECDSA P-256 keys for ES256 (RFC 7518
3.4), made, rotated, published as a JWK Set (RFC 7517 5) and cached.

One key signs at a time. The first is made when the first token is
issued; `mox.py client rotatekey` makes a new one that signs from then
on. The key it replaces is retired: it is still published and still
verifies until the last token it signed can have expired (its retirement
plus the token lifetime and the clock leeway), and is deleted after. The
key id is the key's JWK thumbprint (RFC 7638), so it names the key itself.

The server reads the keys from mox.db, where the command line changes
them: the signing key at each token issued, the public keys at most
every REFRESH seconds, or at once for a key id it does not know, so a
rotation is seen at the next token.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import dataclass

from ..store.oauth import SigningKey, SigningKeyStore

ALGORITHM = "ES256"
LEEWAY = 5.0  # seconds of clock difference allowed between issuer and verifier (RFC 7519 4.1.4)
REFRESH = 30.0  # seconds the public keys are cached


def _jwk_fields(public_key) -> dict[str, str]:
    from jwt.algorithms import ECAlgorithm

    return ECAlgorithm.to_jwk(public_key, as_dict=True)


def thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638 3: SHA-256 of the required members of an EC key, in lexical order, without whitespace."""
    required = {name: jwk[name] for name in ("crv", "kty", "x", "y")}
    canonical = json.dumps(required, sort_keys=True, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()


def new_key(now: float | None = None) -> SigningKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return SigningKey(kid=thumbprint(_jwk_fields(private.public_key())), created=time.time() if now is None else now,
                      private_pem=pem)


def drop_time(key: SigningKey, lifetime: float) -> float:
    """When a retired key stops verifying and is deleted: after the last token it signed has expired."""
    return key.retired + lifetime + LEEWAY if key.retired else float("inf")


@dataclass
class _Loaded:
    private: object  # cryptography's EllipticCurvePrivateKey
    public: object  # and its EllipticCurvePublicKey
    retired: float


class KeyRing:
    """The keys as the server uses them, over the store, with their parsed forms cached by key id."""

    def __init__(self, store: SigningKeyStore):
        self.store = store
        self._keys: dict[str, _Loaded] = {}
        self._loaded_at = float("-inf")

    def _load(self, keys: list[SigningKey]) -> None:
        from cryptography.hazmat.primitives import serialization

        previous = self._keys
        self._keys = {}
        for key in keys:
            known = previous.get(key.kid)
            if known is None:
                private = serialization.load_pem_private_key(key.private_pem, None)
                known = _Loaded(private, private.public_key(), key.retired)
            self._keys[key.kid] = _Loaded(known.private, known.public, key.retired)
        self._loaded_at = time.monotonic()

    async def signing_key(self, lifetime: float) -> tuple[str, object]:
        """(key id, private key) of the key that signs, made if there is none yet. Keys past their drop time
        are deleted on the way."""
        keys = self.store.keys()
        now = time.time()
        if any(k.retired and drop_time(k, lifetime) < now for k in keys):
            await self.store.drop_retired(now - lifetime - LEEWAY)
            keys = self.store.keys()
        current = keys[0] if keys and not keys[0].retired else None
        if current is None:
            current = await self.store.add_first(new_key())
            keys = self.store.keys()
        if current.kid not in self._keys:
            self._load(keys)
        return current.kid, self._keys[current.kid].private

    def public_key(self, kid: str, lifetime: float):
        """The public key with this id, None when there is none or it is past its drop time."""
        if time.monotonic() - self._loaded_at > REFRESH or kid not in self._keys:
            self._load(self.store.keys())
        loaded = self._keys.get(kid)
        if loaded is None or (loaded.retired and loaded.retired + lifetime + LEEWAY < time.time()):
            return None
        return loaded.public

    def jwks(self, lifetime: float) -> dict:
        """The JWK Set of the keys that verify (RFC 7517 5), read from the store."""
        keys = self.store.keys()
        self._load(keys)
        now = time.time()
        published = []
        for key in keys:
            if drop_time(key, lifetime) < now:
                continue
            jwk = _jwk_fields(self._keys[key.kid].public)
            published.append({**jwk, "kid": key.kid, "use": "sig", "alg": ALGORITHM})
        return {"keys": published}

"""New DKIM keys for a domain (RFC 6376; ed25519: RFC 8463).

generate_domain_keys() writes one ed25519 and one RSA-2048 key as PKCS#8
PEM files under the config directory and returns the [Domains.NAME.DKIM]
section that signs with both: ed25519 is small and fast, RSA is what
every verifier understands (RFC 8463 3 recommends signing with both
during the transition). Key rotation, loading keys and signing are not
done here; message/dkim.py loads and signs.
"""

from __future__ import annotations

import datetime
import os

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from .. import config as configlib


def generate_private_key(algorithm: str) -> bytes:
    """A new private key as PKCS#8 PEM: "ed25519" or "rsa" (2048 bits)."""
    if algorithm == "ed25519":
        key = ed25519.Ed25519PrivateKey.generate()
    elif algorithm == "rsa":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        raise ValueError(f"unknown DKIM key algorithm {algorithm!r}")
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def generate_domain_keys(config_dir: str, domain: str, now: datetime.date | None = None) -> configlib.DKIM:
    """Write an ed25519 and an RSA-2048 key for domain under config_dir/dkim/
    and return the DKIM config section that signs with both.

    Selectors are named after the year, "2026a" (ed25519) and "2026b" (RSA),
    so a later key rotation can add "2027a" next to them.
    """
    year = (now or datetime.date.today()).year
    directory = os.path.join(config_dir, "dkim")
    os.makedirs(directory, exist_ok=True)
    section = configlib.DKIM()
    for suffix, algorithm in (("a", "ed25519"), ("b", "rsa")):
        selector = f"{year}{suffix}"
        relpath = os.path.join("dkim", f"{domain}.{selector}.{algorithm}.pkcs8.pem")
        fd = os.open(os.path.join(config_dir, relpath), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(generate_private_key(algorithm))
        section.Selectors[selector] = configlib.DKIMSelector(PrivateKeyFile=relpath)
        section.Sign.append(selector)
    return section

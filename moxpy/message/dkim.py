"""DKIM keys and signing of outgoing mail (RFC 6376; ed25519: RFC 8463).

Each domain has its keys as PKCS#8 PEM files, referenced from the
domain's [Domains.NAME.DKIM] section of the config: Selectors maps a
selector name to its key file, Sign lists the selectors mail is signed
with. This module loads those keys (cached until a file changes), gives
the DNS records they need, and signs; new keys are made by
provision/dkimkeys.py.

Signing is done by dkimpy. RSA signing costs milliseconds of CPU, so
callers on the event loop use the async sign(), which runs in a thread
(in the helper process for a large message, see offload.py). This module
does not verify incoming signatures: message/dkimverify.py does.
"""

from __future__ import annotations

import asyncio
import base64
import os
from dataclasses import dataclass

import dkim as dkimpy
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from .. import config as configlib
from .. import offload
from .address import AddressError, parse_domain

# RFC 6376 5.4.1 lists the fields that should be signed; dkimpy's default set
# follows it and also signs From and Subject once more than present, so
# that a From or Subject added in transit breaks the signature (5.4.2).
CANONICALIZATION = (b"relaxed", b"relaxed")  # survives the usual re-folding and whitespace changes in transit


@dataclass(frozen=True)
class Key:
    selector: str
    algorithm: str  # "ed25519" or "rsa"
    signing_key: bytes  # in dkimpy's form: base64 seed (ed25519) or PEM (RSA)
    public_key: bytes  # the p= value: raw key (ed25519) or SubjectPublicKeyInfo DER (RSA)
    headers: tuple[str, ...] = ()  # fields to sign; empty: dkimpy's default set

    def dns_record(self) -> str:
        """The TXT record to publish at SELECTOR._domainkey.DOMAIN (RFC 6376 3.6.1)."""
        key = base64.b64encode(self.public_key).decode()
        if self.algorithm == "ed25519":
            return f"v=DKIM1; k=ed25519; p={key}"
        return f"v=DKIM1; k=rsa; h=sha256; p={key}"


class DKIMError(Exception):
    pass


_cache: dict[tuple[str, float], Key] = {}


def load_key(path: str, selector: str, headers: list[str] | None = None) -> Key:
    """Read a PKCS#8 PEM private key file; cached until the file changes."""
    try:
        mtime = os.stat(path).st_mtime
    except OSError as e:
        raise DKIMError(f"reading DKIM key for selector {selector}: {e}") from e
    cached = _cache.get((path, mtime))
    if cached is not None and cached.selector == selector and cached.headers == tuple(headers or ()):
        return cached
    with open(path, "rb") as f:
        pem = f.read()
    try:
        private = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as e:
        raise DKIMError(f"DKIM key {path}: {e}") from e
    if isinstance(private, ed25519.Ed25519PrivateKey):
        seed = private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                     serialization.NoEncryption())
        public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        key = Key(selector, "ed25519", base64.b64encode(seed), public, tuple(headers or ()))
    elif isinstance(private, rsa.RSAPrivateKey):
        public = private.public_key().public_bytes(serialization.Encoding.DER,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)
        key = Key(selector, "rsa", pem, public, tuple(headers or ()))
    else:
        raise DKIMError(f"DKIM key {path}: only RSA and ed25519 keys are supported")
    _cache[(path, mtime)] = key
    return key


def _domain_config(config: configlib.Config, domain: str) -> tuple[str, configlib.Domain | None]:
    """(ASCII domain, its config): config keys may be written in Unicode or ASCII."""
    try:
        unicode_form, ascii_form = parse_domain(domain)
    except AddressError:
        return domain.strip().rstrip(".").lower(), None
    return ascii_form, config.Domains.get(unicode_form) or config.Domains.get(ascii_form)


def selector_keys(config: configlib.Config, domain: str, signing_only: bool = False) -> list[Key]:
    """The keys of a configured domain: all selectors, or only those that sign."""
    _, dom = _domain_config(config, domain)
    if dom is None:
        return []
    names = dom.DKIM.Sign if signing_only else list(dom.DKIM.Selectors)
    keys = []
    for name in names:
        sel = dom.DKIM.Selectors[name]
        keys.append(load_key(config.resolve(sel.PrivateKeyFile), name, sel.Headers))
    return keys


def dns_records(config: configlib.Config) -> dict[str, str]:
    """TXT records of every configured selector, by DNS name (ASCII, no trailing dot)."""
    records = {}
    for domain in config.Domains:
        ascii_domain, _ = _domain_config(config, domain)
        for key in selector_keys(config, domain):
            records[f"{key.selector}._domainkey.{ascii_domain}"] = key.dns_record()
    return records


# Signed whenever a message has them, also with a selector's own list of Headers.
LIST_UNSUBSCRIBE = (b"list-unsubscribe", b"list-unsubscribe-post")


def signature_headers(config: configlib.Config, data: bytes, from_domain: str) -> bytes:
    """DKIM-Signature header fields for a message, to put in front of it.

    Empty when the domain has no signing keys. Blocking: RSA signing takes
    milliseconds, so call it in a thread (or use sign()).
    """
    ascii_domain, _ = _domain_config(config, from_domain)
    headers = b""
    for key in selector_keys(config, from_domain, signing_only=True):
        algorithm = b"ed25519-sha256" if key.algorithm == "ed25519" else b"rsa-sha256"
        include = [h.encode() for h in key.headers] or None
        try:
            signer = dkimpy.DKIM(data, signature_algorithm=algorithm)
            # RFC 8058 4: a one-click unsubscribe is only honoured when a DKIM signature covers both
            # List-Unsubscribe and List-Unsubscribe-Post; dkimpy's default set lacks the second.
            signer.should_sign |= set(LIST_UNSUBSCRIBE)
            if include is not None:
                present = {name.lower() for name, _ in signer.headers}
                include += [h for h in LIST_UNSUBSCRIBE if h in present and h not in {i.lower() for i in include}]
            headers += signer.sign(key.selector.encode(), ascii_domain.encode(), key.signing_key,
                                   canonicalize=CANONICALIZATION, include_headers=include)
        except dkimpy.DKIMException as e:
            raise DKIMError(f"DKIM signing for {from_domain} with selector {key.selector}: {e}") from e
    return headers


async def sign(config: configlib.Config, data: bytes, from_domain: str) -> bytes:
    """The message with DKIM-Signature headers for from_domain in front (unchanged
    without signing keys). Signs in a thread, off the event loop."""
    keys = selector_keys(config, from_domain, signing_only=True)
    if not keys:
        return data
    # Canonicalizing takes as long as the message is large; an ed25519 signature itself takes a
    # fraction of a millisecond, less than a thread hop, an RSA one more.
    if len(data) > offload.APART:
        # dkimpy's regular expressions over the body hold the GIL for as long as the message is large.
        return await asyncio.to_thread(offload.apart, signature_headers, config, data, from_domain) + data
    cost = len(data) if all(key.algorithm == "ed25519" for key in keys) else offload.INLINE + 1
    return await offload.run(cost, signature_headers, config, data, from_domain) + data

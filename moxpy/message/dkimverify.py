"""Verifying the DKIM signatures of a message (RFC 6376 6; ed25519: RFC
8463), given the key records they need.

Verification is done by dkimpy, in two steps so that no DNS lookup waits
inside CPU work: key_names() reads which keys the signatures name, the
caller looks them up (smtpserver/checks.py, on the event loop), and
verify() checks the signatures against what was found. verify() is pure
CPU work on the whole message (canonicalizing the body, hashing, RSA), so
it runs in a thread, and for a large message in the helper process
(offload.apart), as its regular expressions hold the GIL for as long as
the message is large.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import dkim as dkimpy
import dkim.util as dkimutil

log = logging.getLogger("moxpy.message.dkimverify")

MAX_SIGNATURES = 10  # more DKIM-Signature fields than this are not verified: bounded work per message

NOT_FOUND = "notfound"  # the record a key name has when DNS says there is none
TEMPORARY = "temperror"  # a lookup that failed for now


@dataclass
class Signature:
    domain: str  # d=
    selector: str  # s=
    algorithm: str  # a=
    status: str  # RFC 8601 2.7.1: pass, fail, neutral, temperror, permerror
    error: str = ""


@dataclass(frozen=True)
class KeyRecord:
    """What the lookup of a key name found: the TXT record, or NOT_FOUND or TEMPORARY with why."""

    status: str  # "ok", NOT_FOUND or TEMPORARY
    value: bytes = b""  # the record, for "ok"
    error: str = ""


def key_names(header: bytes) -> list[str]:
    """The DNS names (selector._domainkey.domain, lower case) of the keys that the first MAX_SIGNATURES
    DKIM-Signature fields of a header section name; malformed fields name none (verify() reports them)."""
    try:
        fields, _ = dkimpy.rfc822_parse(header + b"\r\n")
    except dkimpy.DKIMException:
        return []
    names = []
    for name, value in fields:
        if name.lower() != b"dkim-signature":
            continue
        if len(names) == MAX_SIGNATURES:
            break
        try:
            tags = dkimutil.parse_tag_value(value)
        except dkimutil.InvalidTagValueList:
            continue
        selector, domain = _tag(tags, b"s"), _tag(tags, b"d")
        if selector and domain:
            names.append(_name(f"{selector}._domainkey.{domain}"))
    return names


def verify(data: bytes, records: dict[str, KeyRecord]) -> list[Signature]:
    """The result of each of the first MAX_SIGNATURES DKIM-Signature fields, with the keys looked up for
    key_names(); a key name not in records has no record."""

    def txt(name, timeout=5):
        found = records.get(_name(name.decode("ascii", "replace") if isinstance(name, bytes) else name))
        if found is None or found.status == NOT_FOUND:
            return None
        if found.status == TEMPORARY:
            raise dkimpy.DnsTimeoutError(found.error)
        return found.value

    try:
        verifier = dkimpy.DKIM(data, logger=_quiet)
    except dkimpy.DKIMException as e:
        return [Signature("", "", "", "permerror", f"malformed message: {e}")]
    headers = [v for k, v in verifier.headers if k.lower() == b"dkim-signature"]
    results = []
    for index, value in enumerate(headers[:MAX_SIGNATURES]):
        try:
            tags = dkimutil.parse_tag_value(value)
        except dkimutil.InvalidTagValueList as e:
            results.append(Signature("", "", "", "permerror", f"malformed signature: {e}"))
            continue
        sig = Signature(_tag(tags, b"d").lower(), _tag(tags, b"s"), _tag(tags, b"a"), "fail")
        try:
            sig.status = "pass" if verifier.verify(idx=index, dnsfunc=txt) else "fail"
        except dkimpy.DnsTimeoutError as e:
            sig.status, sig.error = "temperror", str(e)
        except dkimpy.ValidationError as e:
            # RFC 6376 6.1.3: a body hash mismatch fails the signature; other
            # validation errors are malformed signatures (permerror, below).
            sig.status = "fail" if "body hash mismatch" in str(e) else "permerror"
            sig.error = str(e)
        except dkimpy.DKIMException as e:
            # Malformed signature, missing or unusable key: not recoverable by retrying.
            sig.status, sig.error = "permerror", str(e)
        except Exception as e:  # a library bug must not lose the message
            log.exception("dkim verification")
            sig.status, sig.error = "temperror", f"internal error: {e}"
        if sig.status == "fail" and not sig.error:
            sig.error = "signature did not verify"
        results.append(sig)
    return results


def _name(name: str) -> str:
    return name.lower().rstrip(".")


def _tag(tags: dict, name: bytes) -> str:
    return tags.get(name, b"").decode("utf-8", "replace").strip()


class _QuietLogger:
    """dkimpy logs every failed signature at error level; our verdict already records it."""

    def debug(self, *args, **kwargs): ...
    info = warning = error = exception = debug

    def isEnabledFor(self, level) -> bool:
        return False


_quiet = _QuietLogger()

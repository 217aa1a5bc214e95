"""Checks on incoming mail: DKIM signatures, SPF for the sender's IP, and
DMARC alignment of the From domain, each with a maintained library.

- DKIM (RFC 6376, RFC 8463): the keys the signatures name are looked up
  first, then dkimpy verifies every signature (message/dkimverify.py); it
  hashes the whole message, so it runs in a worker thread, and for a large
  message in the helper process (offload.py).
- SPF (RFC 7208): pyspf evaluates the MAIL FROM domain (the HELO name for
  a null sender), also in a thread.
- DMARC (RFC 7489): the `dmarc` library parses the policy record and
  evaluates it; organizational domains come from `publicsuffixlist`,
  which ships a current Public Suffix List.

All DNS lookups, including those the libraries make from their threads,
go through our Resolver (dnspython's async resolver on the event loop),
so localserve's local zones apply to them too.

The Verdict says what the store keeps (MailFromValidated,
MsgFromValidated, DKIMVerifiedDomains) and becomes an
Authentication-Results header (RFC 8601). Deciding whether to accept the
message is the delivery handler's job.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from dataclasses import dataclass, field

import authres
import authres.dmarc
import dmarc as dmarclib
import spf as pyspf
from publicsuffixlist import PublicSuffixList

from .. import offload
from ..message import dkimverify
from ..message import headers as headerlib
from ..message.dkimverify import Signature as DKIMSignature
from ..message import parse as msgparse
from ..resolver import Resolver, TemporaryDNSError

log = logging.getLogger("moxpy.smtpserver.checks")

DKIM_KEY_TIMEOUT = 5.0  # seconds for the lookup of a DKIM key, as dkimpy's own lookups
SPF_TIMEOUT = 20.0  # RFC 7208 4.6.4 suggests at least 20 seconds for the whole evaluation

_psl = PublicSuffixList()


def organizational_domain(domain: str) -> str:
    """RFC 7489 3.2: the registered domain, one label below its public suffix.
    A name that is itself a public suffix (or a bare "localhost") is its own."""
    domain = domain.lower().rstrip(".")
    return _psl.privatesuffix(domain) or domain


def aligned(domain: str, from_domain: str) -> bool:
    """RFC 7489 3.1: relaxed alignment, the same organizational domain."""
    domain, from_domain = domain.lower(), from_domain.lower()
    return domain == from_domain or organizational_domain(domain) == organizational_domain(from_domain)


@dataclass
class Verdict:
    dkim: list[DKIMSignature] = field(default_factory=list)
    spf: str = "none"  # RFC 7208 2.6 result
    spf_identity: str = ""  # "mailfrom" or "helo"
    spf_domain: str = ""
    msg_from_domain: str = ""
    dmarc: str = "none"  # pass, fail, none, temperror, permerror
    dmarc_reject: bool = False  # the From domain's policy asks to reject this message
    mail_from_validated: bool = False  # SPF passed for the MAIL FROM domain
    msg_from_validated: bool = False  # the From domain is aligned with a passing DKIM or SPF domain

    @property
    def dkim_domains(self) -> list[str]:
        """Domains of passing signatures, each once, in message order."""
        seen: list[str] = []
        for sig in self.dkim:
            if sig.status == "pass" and sig.domain not in seen:
                seen.append(sig.domain)
        return seen

    def authentication_results(self, hostname: str, mail_from: str) -> bytes:
        """An Authentication-Results header field (RFC 8601), folded, ending in CRLF."""
        results = []
        for sig in self.dkim or [None]:
            if sig is None:
                results.append(authres.DKIMAuthenticationResult(result="none"))
            else:
                results.append(authres.DKIMAuthenticationResult(
                    result=sig.status, header_d=sig.domain, header_s=sig.selector, header_a=sig.algorithm,
                    reason=sig.error or None))
        if self.spf_identity == "helo":
            results.append(authres.SPFAuthenticationResult(result=self.spf, smtp_helo=self.spf_domain))
        else:
            results.append(authres.SPFAuthenticationResult(result=self.spf, smtp_mailfrom=mail_from or None))
        results.append(authres.dmarc.DMARCAuthenticationResult(result=self.dmarc,
                                                               header_from=self.msg_from_domain or None))
        text = str(authres.AuthenticationResultsHeader(authserv_id=hostname, results=results))
        return (text.replace("; ", ";\r\n\t") + "\r\n").encode("utf-8", "surrogateescape")


async def check(resolver: Resolver, data: bytes, *, remote_ip: str, helo: str, mail_from: str,
                headers=None) -> Verdict:
    """Verify DKIM and SPF concurrently, then evaluate DMARC for the From domain.

    headers: the message's parsed header section, when the caller has it already.
    """
    resolver.bind()
    verdict = Verdict()
    froms = msgparse.addresses(headers if headers is not None else msgparse.parse_headers(data), "From")
    # RFC 7489 6.6.1: DMARC applies to a message with exactly one From address.
    if len(froms) == 1 and "@" in froms[0][1]:
        verdict.msg_from_domain = froms[0][1].rpartition("@")[2].lower().rstrip(".")

    # The lookups are independent: run them together, so a slow DNS costs one timeout, not three.
    dkim_task = asyncio.ensure_future(_verify_dkim(resolver, data))
    dmarc_task = asyncio.ensure_future(_dmarc_record(resolver, verdict.msg_from_domain)) if verdict.msg_from_domain else None
    try:
        verdict.spf, verdict.spf_identity, verdict.spf_domain = await _check_spf(resolver, remote_ip, helo, mail_from)
        verdict.dkim = await dkim_task
    except BaseException:
        for task in (dkim_task, dmarc_task):
            if task is not None:
                task.cancel()
        raise
    verdict.mail_from_validated = verdict.spf == "pass" and verdict.spf_identity == "mailfrom"

    if verdict.msg_from_domain:
        from_domain = verdict.msg_from_domain
        passing = list(verdict.dkim_domains)
        if verdict.spf == "pass":
            passing.append(verdict.spf_domain)
        # mox's "relaxed or strict" validation: aligned with a passing identity,
        # whether or not the domain publishes a DMARC policy.
        verdict.msg_from_validated = any(aligned(d, from_domain) for d in passing)
        verdict.dmarc, verdict.dmarc_reject = await _evaluate_dmarc(dmarc_task, from_domain, verdict)
    return verdict


# DKIM.

async def _verify_dkim(resolver: Resolver, data: bytes) -> list[DKIMSignature]:
    header = headerlib.split(data)[0]
    if b"dkim-signature:" not in header.lower():
        return []  # the common unsigned case costs no thread
    names = dkimverify.key_names(header)
    found = await asyncio.gather(*(_key_record(resolver, name) for name in names))
    records = dict(zip(names, found))
    if len(data) > offload.APART:
        return await asyncio.to_thread(offload.apart, dkimverify.verify, data, records)
    return await asyncio.to_thread(dkimverify.verify, data, records)


async def _key_record(resolver: Resolver, name: str) -> dkimverify.KeyRecord:
    try:
        records = await asyncio.wait_for(resolver.lookup(name, "TXT"), DKIM_KEY_TIMEOUT)
    except (TemporaryDNSError, asyncio.TimeoutError) as e:
        return dkimverify.KeyRecord(dkimverify.TEMPORARY, error=str(e) or f"looking up TXT {name}: timeout")
    if not records:
        return dkimverify.KeyRecord(dkimverify.NOT_FOUND)
    return dkimverify.KeyRecord("ok", records[0])


# SPF.

_spf_resolver: contextvars.ContextVar[Resolver] = contextvars.ContextVar("spf_resolver")


def _spf_dns_lookup(name, qtype, tcpfallback=True, timeout=30):
    """pyspf's DNS hook: answers in its format, from the resolver of the running check."""
    resolver = _spf_resolver.get()
    if qtype == "SPF":
        return []  # RFC 7208 3.1: the SPF record type is no longer used
    try:
        values = resolver.blocking(name, qtype, timeout)
    except TemporaryDNSError as e:
        raise pyspf.TempError(f"DNS {e}") from None
    if qtype == "TXT":
        return [((name, qtype), [v]) for v in values]
    return [((name, qtype), v) for v in values]


pyspf.DNSLookup = _spf_dns_lookup


async def _check_spf(resolver: Resolver, remote_ip: str, helo: str, mail_from: str) -> tuple[str, str, str]:
    """(result, identity, domain): RFC 7208 2.4, the MAIL FROM domain, or the
    HELO name when the reverse path is null."""
    if mail_from and "@" in mail_from:
        identity, domain, sender = "mailfrom", mail_from.rpartition("@")[2].lower(), mail_from
    elif helo and not helo.startswith("["):
        identity, domain, sender = "helo", helo.lower(), f"postmaster@{helo}"
    else:
        return "none", "", ""

    def evaluate() -> str:
        try:
            query = pyspf.query(i=remote_ip, s=sender, h=helo or domain, timeout=SPF_TIMEOUT)
            result, _code, _explanation = query.check()
        except pyspf.TempError:
            return "temperror"
        except (pyspf.PermError, ValueError) as e:
            log.debug("spf permerror for %s: %s", sender, e)
            return "permerror"
        except Exception:  # a library bug must not lose the message
            log.exception("spf evaluation")
            return "temperror"
        return result if result in ("pass", "fail", "softfail", "neutral", "none", "temperror", "permerror") else "neutral"

    token = _spf_resolver.set(resolver)
    try:
        result = await asyncio.to_thread(evaluate)  # the thread gets a copy of this context
    finally:
        _spf_resolver.reset(token)
    return result, identity, domain


# DMARC.

class _OrganizationalDomains:
    """The interface the dmarc library expects of a public suffix list."""

    def get_public_suffix(self, domain: str) -> str:
        return organizational_domain(domain)


async def _dmarc_record(resolver: Resolver, from_domain: str) -> tuple[str | None, str | None]:
    """(record, organizational domain when the record came from there): RFC 7489 6.6.3."""
    org = organizational_domain(from_domain)
    for domain in (from_domain, org) if org != from_domain else (from_domain,):
        records = [r for r in await resolver.lookup(f"_dmarc.{domain}", "TXT") if r[:8].lower() == b"v=dmarc1"]
        if len(records) == 1:
            return records[0].decode("utf-8", "replace"), (org if domain != from_domain else None)
    return None, None


async def _evaluate_dmarc(lookup: asyncio.Future, from_domain: str, verdict: Verdict) -> tuple[str, bool]:
    try:
        record, org = await lookup
    except TemporaryDNSError as e:
        log.info("dmarc lookup for %s: %s", from_domain, e)
        return "temperror", False
    if record is None:
        return "none", False
    try:
        policy = dmarclib.DMARCPolicy(record=record, domain=from_domain, org_domain=org,
                                      publicsuffix=_OrganizationalDomains(), strict=False)
    except dmarclib.RecordSyntaxError as e:
        log.info("dmarc record for %s: %s", from_domain, e)
        return "permerror", False
    results: list = []
    if verdict.spf_domain:
        results.append(dmarclib.SPF(verdict.spf_domain, dmarclib.SPFResult(verdict.spf)))
    for sig in verdict.dkim:
        if sig.domain:
            results.append(dmarclib.DKIM(sig.domain, dmarclib.DKIMResult(sig.status)))
    try:
        policy.verify(auth_results=results)
    except dmarclib.PolicyError:
        pass  # a failing result; the disposition says what the domain wants done with it
    outcome = policy.result
    passed = outcome.result is dmarclib.DMARCResult.PASS
    return ("pass" if passed else "fail"), (not passed and outcome.disposition is dmarclib.DMARCDisposition.REJECT)

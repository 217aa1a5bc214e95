"""Where to deliver mail for a domain: MX lookup with fallback to the
domain itself, and the IP addresses of each host (RFC 5321 section 5).

Uses dnspython's asynchronous resolver directly, with the system's name
servers or the ones configured in [DNS]: unlike the shared resolver
(moxpy.resolver), delivery must tell a domain that does not exist
(permanent) from one without MX records (implicit MX). It only answers
questions; it does not connect anywhere.
"""

from __future__ import annotations

import ipaddress
import random

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.rdatatype
import dns.resolver

from ..resolver import parse_nameserver


class DestinationError(Exception):
    """No place to deliver to. permanent: retrying will not help."""

    def __init__(self, message: str, permanent: bool = False, code: int = 0, enhanced_code: str = ""):
        super().__init__(message)
        self.permanent = permanent
        self.code = code
        self.enhanced_code = enhanced_code


class MXResolver:
    """The mail hosts of a domain and their addresses, from DNS without a cache."""

    def __init__(self, nameservers: list[str] | None = None, timeout: float = 10.0):
        if nameservers:
            self._resolver = dns.asyncresolver.Resolver(configure=False)
            self._resolver.nameservers = [dns.nameserver.Do53Nameserver(*parse_nameserver(n)) for n in nameservers]
        else:
            try:
                self._resolver = dns.asyncresolver.Resolver()
            except dns.resolver.NoResolverConfiguration:
                # No /etc/resolv.conf: lookups fail as temporary errors until [DNS] is configured.
                self._resolver = dns.asyncresolver.Resolver(configure=False)
        self._resolver.lifetime = timeout
        # No caching between attempts: retries should see corrected records.
        self._resolver.cache = None

    async def mail_hosts(self, domain: str) -> list[str]:
        """Host names (or IP literals) to try in order, for an ASCII domain."""
        # RFC 5321 4.1.3: an address literal names the host itself.
        if domain.startswith("[") and domain.endswith("]"):
            literal = domain[1:-1].removeprefix("IPv6:").removeprefix("ipv6:")
            try:
                return [str(ipaddress.ip_address(literal))]
            except ValueError:
                raise DestinationError(f"bad address literal {domain}", permanent=True, code=550,
                                       enhanced_code="5.1.2") from None
        try:
            answer = await self._resolver.resolve(domain, "MX", search=False)
        except dns.resolver.NXDOMAIN:
            raise DestinationError(f"domain {domain} does not exist", permanent=True, code=550,
                                   enhanced_code="5.1.2") from None
        except dns.resolver.NoAnswer:
            # RFC 5321 5.1: no MX records, the domain itself is the host (implicit MX).
            return [domain]
        except (dns.exception.Timeout, dns.resolver.NoNameservers, dns.resolver.YXDOMAIN) as e:
            raise DestinationError(f"looking up MX records of {domain}: {e}") from None
        except dns.exception.DNSException as e:
            raise DestinationError(f"looking up MX records of {domain}: {e}") from None
        records = [(r.preference, r.exchange.to_text(omit_final_dot=True)) for r in answer]
        # RFC 7505 3: a single MX with exchange "." means the domain accepts no mail.
        if len(records) == 1 and records[0][1] in ("", "."):
            raise DestinationError(f"domain {domain} does not accept email (null MX)", permanent=True,
                                   code=556, enhanced_code="5.1.10")
        records = [r for r in records if r[1] not in ("", ".")]
        # RFC 5321 5.1: lowest preference first; hosts of equal preference in random order.
        random.shuffle(records)
        records.sort(key=lambda r: r[0])
        return [name for _, name in records]

    async def addresses(self, host: str) -> list[str]:
        """IP addresses of a mail host, IPv4 first."""
        try:
            return [str(ipaddress.ip_address(host))]
        except ValueError:
            pass
        ips: list[str] = []
        errors = []
        for rdtype in ("A", "AAAA"):
            try:
                answer = await self._resolver.resolve(host, rdtype, search=False)
                ips.extend(r.address for r in answer)
            except (dns.resolver.NoAnswer, dns.resolver.NXDOMAIN):
                continue
            except dns.exception.DNSException as e:
                errors.append(f"{rdtype}: {e}")
        if not ips:
            raise DestinationError(f"no IP addresses for host {host}" + (f" ({'; '.join(errors)})" if errors else ""))
        return ips

"""DNS lookups: dnspython's async resolver with a cache, configured from the
config's DNS section, and local zones answered without asking DNS.

Local zones exist for localserve: its hosted domains (such as "localhost")
are in no public DNS, yet mail that the queue delivers back to ourselves
should pass DKIM and SPF like it would in production. A resolver made with
with_local_zones() answers names at or under those domains from the given
records only, and everything else from DNS.

Answers are plain values (TXT as bytes, addresses as text), so callers do
not depend on dnspython's types. Libraries that do their own lookups
synchronously in a worker thread (pyspf, dkimpy) reach this resolver
through blocking(), which runs the lookup on the event loop and waits.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.name
import dns.rdatatype
import dns.resolver

from .config import ConfigError

log = logging.getLogger("moxpy.resolver")


class TemporaryDNSError(Exception):
    """A lookup that may succeed later: timeout, SERVFAIL, no reachable nameserver."""


def parse_nameserver(text: str) -> tuple[str, int]:
    """ "ip", "ip:port" or "[ipv6]:port" as (ip, port)."""
    text = text.strip()
    if text.startswith("["):
        host, _, port = text[1:].partition("]")
        port = port.removeprefix(":")
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    else:
        host, port = text, ""
    ipaddress.ip_address(host)  # ValueError for a name: nameservers are given as IPs
    return host, int(port or 53)


class Resolver:
    def __init__(self, nameservers: list[str] | None = None, timeout: float = 10.0):
        if nameservers:
            resolver = dns.asyncresolver.Resolver(configure=False)
            resolver.nameservers = [dns.nameserver.Do53Nameserver(*parse_nameserver(ns)) for ns in nameservers]
        else:
            try:
                resolver = dns.asyncresolver.Resolver()
            except dns.resolver.NoResolverConfiguration:
                # No /etc/resolv.conf (some containers): start anyway; lookups fail as temporary errors.
                log.warning("no DNS resolver configured; set [DNS] Nameservers in the config")
                resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.lifetime = timeout
        resolver.cache = dns.resolver.Cache()
        self._resolver = resolver
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def from_config(cls, settings) -> "Resolver":
        """From a config.DNS section."""
        try:
            return cls(settings.Nameservers, settings.Timeout)
        except ValueError as e:
            raise ConfigError(f"DNS: Nameservers: {e} (give IP addresses, optionally with :port)") from None

    def with_local_zones(self, zones: list[str], records: dict[tuple[str, str], list]) -> "Resolver":
        """A resolver answering names at or under zones from records, keyed (name, type)."""
        return _LocalZones(self, zones, records)

    async def lookup(self, name: str, rdtype: str) -> list:
        """Records of one type: TXT as bytes (strings joined), A/AAAA/PTR/CNAME as
        text, MX as (preference, host). Empty when the name or type does not exist."""
        self._loop = asyncio.get_running_loop()
        try:
            answer = await self._resolver.resolve(name, rdtype, search=False, raise_on_no_answer=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except dns.resolver.NoNameservers as e:
            raise TemporaryDNSError(f"looking up {rdtype} {name}: no nameserver answered: {e}") from None
        except dns.exception.Timeout:
            raise TemporaryDNSError(f"looking up {rdtype} {name}: timeout") from None
        except dns.exception.DNSException as e:
            raise TemporaryDNSError(f"looking up {rdtype} {name}: {e}") from None
        return [_value(rdata) for rdata in answer.rrset or ()]

    def blocking(self, name: str, rdtype: str, timeout: float | None = None) -> list:
        """lookup() from a worker thread: runs on the event loop and waits for it."""
        loop = self._loop
        if loop is None:
            raise TemporaryDNSError("resolver not used from an event loop yet")
        future = asyncio.run_coroutine_threadsafe(self.lookup(name, rdtype), loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise TemporaryDNSError(f"looking up {rdtype} {name}: timeout") from None

    def bind(self) -> None:
        """Remember the running loop, for blocking() calls from threads."""
        self._loop = asyncio.get_running_loop()


class _LocalZones(Resolver):
    def __init__(self, parent: Resolver, zones: list[str], records: dict[tuple[str, str], list]):
        self._parent = parent
        self._zones = [z.lower().rstrip(".") for z in zones]
        self._records = {(name.lower().rstrip("."), rdtype.upper()): values for (name, rdtype), values in records.items()}

    def _local(self, name: str) -> bool:
        return any(name == zone or name.endswith("." + zone) for zone in self._zones)

    async def lookup(self, name: str, rdtype: str) -> list:
        key = (name.lower().rstrip("."), rdtype.upper())
        if self._local(key[0]):
            return list(self._records.get(key, []))
        return await self._parent.lookup(name, rdtype)

    def blocking(self, name: str, rdtype: str, timeout: float | None = None) -> list:
        key = (name.lower().rstrip("."), rdtype.upper())
        if self._local(key[0]):
            return list(self._records.get(key, []))
        return self._parent.blocking(name, rdtype, timeout)

    def bind(self) -> None:
        self._parent.bind()


def _value(rdata):
    kind = rdata.rdtype
    if kind == dns.rdatatype.TXT:
        return b"".join(rdata.strings)
    if kind == dns.rdatatype.MX:
        return rdata.preference, rdata.exchange.to_text(omit_final_dot=True)
    if kind in (dns.rdatatype.A, dns.rdatatype.AAAA):
        return rdata.address
    if kind in (dns.rdatatype.PTR, dns.rdatatype.CNAME):
        return rdata.target.to_text(omit_final_dot=True)
    return rdata.to_text()

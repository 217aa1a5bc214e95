"""Open connections per remote address, and per network around it, for one
listening service.

An idle connection costs little, but thousands of them from one client
exhaust descriptors and memory for everyone else. As mox, a listener
holds at most a number of connections per address, three times that per
/26 (IPv4) or /48 (IPv6) and nine times that per /21 or /32 (see
ratelimit.ip_classes); past the cap a new connection is told so in the
protocol's words and closed. A connection's slot is given back when it
closes.

ConnectionLimit is the bookkeeping; the listeners check it as they accept
(SMTP and IMAP in their protocols, to answer in their own syntax; HTTP
through limited_http below, which answers 503).
"""

from __future__ import annotations

import logging

from . import ratelimit

log = logging.getLogger("moxpy.connlimit")

DEFAULT_PER_IP = 30  # mox's limit for SMTP and IMAP
LOCALSERVE_PER_IP = 1000  # localserve is for development: tests and load runs open many at once


def per_ip(configured: int, localserve: bool) -> int:
    """The cap per address from the MaxConnectionsPerIP setting (0: the default)."""
    if configured > 0:
        return configured
    return LOCALSERVE_PER_IP if localserve else DEFAULT_PER_IP


class ConnectionLimit:
    def __init__(self, service: str, per_ip: int):
        self.service = service  # for the log line when a connection is refused
        self.limits = (per_ip, 3 * per_ip, 9 * per_ip)
        self._open: dict[ratelimit.Key, int] = {}
        self.count = 0  # connections holding a slot, from every address

    def acquire(self, ip: str) -> bool:
        """Take a slot for a new connection from ip; False (nothing taken) when over the cap."""
        keys = ratelimit.ip_classes(ip)
        if any(self._open.get(key, 0) >= limit for key, limit in zip(keys, self.limits)):
            log.info("connection refused service=%s remote=%s: too many open connections", self.service, ip)
            return False
        for key in keys:
            self._open[key] = self._open.get(key, 0) + 1
        self.count += 1
        return True

    def release(self, ip: str) -> None:
        """Give back the slot of a connection from ip that acquire() let in."""
        self.count -= 1
        for key in ratelimit.ip_classes(ip):
            count = self._open.get(key, 0) - 1
            if count > 0:
                self._open[key] = count
            else:
                self._open.pop(key, None)


_HTTP_REFUSAL_BODY = b"503 - too many open connections from your address\n"
# RFC 9110 15.6.4: 503 for a temporary refusal; the client may come back once it closes others.
HTTP_REFUSAL = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(_HTTP_REFUSAL_BODY)) + _HTTP_REFUSAL_BODY


def limited_http(factory, limit: ConnectionLimit):
    """A Twisted factory that lets factory's protocol serve a connection only
    while the address is under limit, and otherwise answers 503 and closes."""
    from twisted.internet.interfaces import IProtocolNegotiationFactory
    from twisted.internet.protocol import Protocol
    from twisted.protocols import policies
    from zope.interface import implementer

    class Refused(Protocol):
        def connectionMade(self):
            self.transport.write(HTTP_REFUSAL)
            self.transport.loseConnection()

    class Held(policies.ProtocolWrapper):
        def __init__(self, wrapper, protocol, ip: str):
            super().__init__(wrapper, protocol)
            self.ip = ip

        def connectionLost(self, reason):
            if self.ip is not None:
                limit.release(self.ip)
                self.ip = None
            super().connectionLost(reason)

    @implementer(IProtocolNegotiationFactory)
    class Limited(policies.WrappingFactory):
        noisy = False  # no "Starting factory" log lines, as the site it wraps

        def acceptableProtocols(self):
            # TLS below asks the factory it wraps which protocols to offer in ALPN (RFC 7301).
            negotiation = IProtocolNegotiationFactory(self.wrappedFactory, None)
            return negotiation.acceptableProtocols() if negotiation is not None else []

        def buildProtocol(self, addr):
            ip = getattr(addr, "host", "")
            if not limit.acquire(ip):
                return Refused()
            protocol = self.wrappedFactory.buildProtocol(addr)
            if protocol is None:
                limit.release(ip)
                return None
            return Held(self, protocol, ip)

    return Limited(factory)

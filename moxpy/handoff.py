"""The webapi served by both processes of a server of two.

The front process accepts every webapi connection and keeps it or passes
it on to the delivery process, whichever holds fewer open webapi
connections, so calls (MessageGet, Send) run on both cores. A passed
connection's descriptor crosses a Unix socket pair of its own
(SCM_RIGHTS, one datagram per connection naming the listening address it
came in on); the delivery process serves it with the same site, and tells
the front over the link when it closes. The front counts every
connection, kept or passed, against the per-address cap, so a client
gets as many connections from two processes as from one.

A connection is placed when it is accepted and stays there: an HTTP
connection carries its requests in order. When the other process cannot
take a descriptor at once (its socket buffer full), the front keeps the
connection.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections import Counter
from collections.abc import Callable

import msgspec

log = logging.getLogger("moxpy.handoff")

Address = tuple[str, str, int]  # (service, ip, port) of a listening socket, as server.bind() keys them

ACCEPT_BATCH = 64  # connections accepted per wakeup at most, so one busy port does not hold the loop


class Handed(msgspec.Struct, array_like=True):
    """What comes with a passed descriptor; also the link message (kind "webclosed") when it closes."""

    service: str
    ip: str
    port: int
    remote_ip: str = ""


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Handed)


def socket_pair() -> tuple[socket.socket, socket.socket]:
    """The pair descriptors cross on: datagrams in order, each whole (SOCK_SEQPACKET)."""
    return socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)


class Balancer:
    """The front's side: accepts on the webapi's listening sockets and places each connection."""

    def __init__(self, sock: socket.socket | None, keep: Callable[[Address, socket.socket], None],
                 acquire: Callable[[str, str], bool], release: Callable[[str, str], None]):
        """sock: the front's end of socket_pair(), or None while there is no other process (attach);
        keep(address, conn): serve conn here; acquire(service, remote ip) / release: the per-address cap
        of a service, for connections passed on."""
        self._sock: socket.socket | None = None
        self._keep = keep
        self._acquire = acquire
        self._release = release
        self._listening: list[socket.socket] = []
        self.kept = 0  # open connections served here
        self.passed = 0  # open connections passed to the other process
        self._passed_from: Counter[tuple[str, str]] = Counter()  # those by (service, remote ip)
        if sock is not None:
            self.attach(sock)

    def attach(self, sock: socket.socket) -> None:
        """Pass connections on over sock (the front's end of a new socket_pair()) from now on."""
        sock.setblocking(False)
        self._sock = sock

    def detach(self) -> None:
        """Keep every new connection here (the other process is leaving); those passed go on there."""
        self._sock = None

    def lost(self) -> None:
        """The other process ended: the connections passed to it are gone, and their slots are free."""
        self.detach()
        for (service, remote_ip), n in self._passed_from.items():
            for _ in range(n):
                self._release(service, remote_ip)
        self._passed_from.clear()
        self.passed = 0

    def listen(self, address: Address, listening: socket.socket) -> None:
        listening.setblocking(False)
        self._listening.append(listening)
        asyncio.get_running_loop().add_reader(listening.fileno(), self._accept, address, listening)

    def stop(self) -> None:
        """Stop accepting (connections already placed go on)."""
        loop = asyncio.get_running_loop()
        for listening in self._listening:
            loop.remove_reader(listening.fileno())
            listening.close()
        self._listening = []

    def closed_here(self) -> None:
        self.kept -= 1

    def closed_there(self, handed: Handed) -> None:
        """The link's "webclosed": a passed connection ended."""
        key = (handed.service, handed.remote_ip)
        if self._passed_from[key] <= 0:
            return  # counted as lost already
        self._passed_from[key] -= 1
        if not self._passed_from[key]:
            del self._passed_from[key]
        self.passed -= 1
        self._release(handed.service, handed.remote_ip)

    def _accept(self, address: Address, listening: socket.socket) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                conn, peer = listening.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                # Out of descriptors, or the client gave up before accept: the next wakeup tries again.
                log.warning("accepting webapi connection on %s:%d: %s", address[1], address[2], e)
                return
            conn.setblocking(False)
            try:
                self._place(address, conn, peer[0])
            finally:
                conn.close()  # the process serving it holds its own duplicate

    def _place(self, address: Address, conn: socket.socket, remote_ip: str) -> None:
        service = address[0]
        if self._sock is not None and self.passed < self.kept and self._acquire(service, remote_ip):
            message = _encoder.encode(Handed(*address, remote_ip=remote_ip))
            try:
                socket.send_fds(self._sock, [message], [conn.fileno()])
            except OSError:
                # The other process is not keeping up (or is gone): serve it here.
                self._release(service, remote_ip)
            else:
                self.passed += 1
                self._passed_from[(service, remote_ip)] += 1
                return
        self.kept += 1
        self._keep(address, conn)


class Receiver:
    """The delivery process's side: serves the connections the front passes on."""

    def __init__(self, sock: socket.socket, serve: Callable[[Handed, int, socket.AddressFamily], None]):
        """serve(handed, fd, family): take the connection (duplicating fd: it is closed after the call)."""
        self._sock = sock
        self._sock.setblocking(False)
        self._serve = serve

    def start(self) -> None:
        asyncio.get_running_loop().add_reader(self._sock.fileno(), self._receive)

    def stop(self) -> None:
        try:
            asyncio.get_running_loop().remove_reader(self._sock.fileno())
        except (ValueError, OSError):
            pass
        self._sock.close()

    def _receive(self) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                message, fds, _, _ = socket.recv_fds(self._sock, 1024, 1)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                log.error("receiving webapi connection: %s", e)
                self.stop()
                return
            if not message and not fds:
                self.stop()  # the front is gone
                return
            for fd in fds:
                try:
                    handed = _decoder.decode(message)
                    family = socket.AF_INET6 if ":" in handed.ip else socket.AF_INET
                    self._serve(handed, fd, family)
                except Exception:
                    log.exception("serving a webapi connection passed on")
                finally:
                    socket.close(fd)


def counted(factory, on_close: Callable[[str], None]):
    """A Twisted factory serving with factory's protocols that calls on_close(remote ip) as each
    connection ends; its `protocols` holds the connections open (WrappingFactory's)."""
    from twisted.protocols import policies

    class Counted(policies.ProtocolWrapper):
        def connectionLost(self, reason):
            try:
                super().connectionLost(reason)
            finally:
                on_close(getattr(self.transport.getPeer(), "host", ""))

    class CountedFactory(policies.WrappingFactory):
        protocol = Counted
        noisy = False

    return CountedFactory(factory)


def _channel(wrapper):
    """The HTTP channel inside a counted factory's connection (inside TLS, or the cap's wrapper)."""
    channel = wrapper.wrappedProtocol
    while not hasattr(channel, "requests") and hasattr(channel, "wrappedProtocol"):
        channel = channel.wrappedProtocol
    return channel


def rebalance(connections, n: int) -> None:
    """Have n of the HTTP connections (a counted factory's protocols) end after their next response,
    which says so ("Connection: close"): their clients connect again, and some of those connections go
    to the other process. A request is never cut."""
    for wrapper in list(connections)[:max(n, 0)]:
        _channel(wrapper).close_after_response = True


def close_idle(connections) -> None:
    """Close those of the HTTP connections (a counted factory's protocols) that are between requests; the
    others finish their requests first (a later call closes them)."""
    for wrapper in list(connections):
        channel = _channel(wrapper)
        if not getattr(channel, "requests", True) and channel.transport is not None:
            channel.transport.loseConnection()

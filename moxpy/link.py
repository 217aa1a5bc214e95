"""Typed messages between two processes of one server, over a socket pair.

Each message is a frame: a 4-octet big-endian length, then MessagePack of
(kind, body). A receiver registers one handler per kind with the body's
type; bodies are msgspec structs, decoded with that type, so a message
that does not fit is an error in the log, not a half-read object. Messages
are small and sent from the event loop; send() only buffers, so a sender
never waits for the other side.

A process that is about to act on a client's command calls drain() first
(through Store.catch_up): what the other process sent before it answered
that client (a change committed before an SMTP 250) is then handled
before the command, whatever order the event loop would have read the two
connections in.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from typing import Any

import msgspec

log = logging.getLogger("moxpy.link")

MAX_FRAME = 64 * 1024 * 1024  # a frame claiming more is a broken link, not a message
MAX_READ = 256 * 1024  # what drain() reads at a time

_encoder = msgspec.msgpack.Encoder()
_frame = msgspec.msgpack.Decoder(tuple[str, msgspec.Raw])


class Link(asyncio.Protocol):
    def __init__(self, sock: socket.socket, name: str):
        self.name = name  # the other side, for the log
        self._sock = sock
        self._handlers: dict[str, tuple[msgspec.msgpack.Decoder, Callable[[Any], None]]] = {}
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()  # what arrived of frames not yet whole
        self.closed: asyncio.Future | None = None  # done when the other side is gone

    def on(self, kind: str, body_type: Any, handler: Callable[[Any], None]) -> None:
        """Call handler with the body of every message of this kind (decoded as body_type)."""
        self._handlers[kind] = (msgspec.msgpack.Decoder(body_type), handler)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.closed = loop.create_future()
        await loop.create_connection(lambda: self, sock=self._sock)

    @property
    def started(self) -> bool:
        return self._transport is not None

    def send(self, kind: str, body: Any = None) -> None:
        if self._transport is None or self._transport.is_closing():
            return  # the other side is gone; what it would have been told no longer matters
        frame = _encoder.encode((kind, msgspec.Raw(_encoder.encode(body))))
        self._transport.write(len(frame).to_bytes(4, "big") + frame)

    def drain(self) -> None:
        """Handle now what the other side has sent so far, without waiting for the loop to read it; on
        the event loop (the transport then finds nothing, or the rest)."""
        if self._transport is None or self._transport.is_closing():
            return
        while True:
            try:
                data = self._sock.recv(MAX_READ, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return  # the transport finds out on its next read, and closes
            if not data:
                return  # the other side closed: as above
            self.data_received(data)
            if self._transport.is_closing():
                return

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
        elif self._sock.fileno() >= 0:
            self._sock.close()

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        start = 0
        while len(buffer) - start >= 4 and not self._transport.is_closing():
            size = int.from_bytes(buffer[start:start + 4], "big")
            if size > MAX_FRAME:
                log.error("link to %s: frame of %d octets, closing", self.name, size)
                self._transport.close()
                break
            if len(buffer) - start - 4 < size:
                break
            frame = bytes(buffer[start + 4:start + 4 + size])
            start += 4 + size
            self._handle(frame)
        del buffer[:start]

    def connection_lost(self, exc: Exception | None) -> None:
        if self.closed is not None and not self.closed.done():
            self.closed.set_result(None)

    def _handle(self, frame: bytes) -> None:
        try:
            kind, raw = _frame.decode(frame)
        except msgspec.DecodeError as e:
            log.error("link to %s: bad frame: %s", self.name, e)
            self._transport.close()
            return
        handler = self._handlers.get(kind)
        if handler is None:
            log.error("link to %s: message of unknown kind %r", self.name, kind)
            return
        decoder, fn = handler
        try:
            fn(decoder.decode(raw))
        except Exception:
            log.exception("link to %s: handling %s", self.name, kind)

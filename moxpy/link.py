"""Typed messages between two processes of one server, over a socket pair.

Each message is a frame: a 4-octet big-endian length, then MessagePack of
(kind, body). A receiver registers one handler per kind with the body's
type; bodies are msgspec structs, decoded with that type, so a message
that does not fit is an error in the log, not a half-read object. Messages
are small and sent from the event loop; send() only buffers, so a sender
never waits for the other side.
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

_encoder = msgspec.msgpack.Encoder()
_frame = msgspec.msgpack.Decoder(tuple[str, msgspec.Raw])


class Link:
    def __init__(self, sock: socket.socket, name: str):
        self.name = name  # the other side, for the log
        self._sock = sock
        self._handlers: dict[str, tuple[msgspec.msgpack.Decoder, Callable[[Any], None]]] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._reading: asyncio.Task | None = None
        self.closed: asyncio.Future | None = None  # done when the other side is gone

    def on(self, kind: str, body_type: Any, handler: Callable[[Any], None]) -> None:
        """Call handler with the body of every message of this kind (decoded as body_type)."""
        self._handlers[kind] = (msgspec.msgpack.Decoder(body_type), handler)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.closed = loop.create_future()
        reader, self._writer = await asyncio.open_connection(sock=self._sock)
        self._reading = loop.create_task(self._read(reader), name=f"link to {self.name}")

    @property
    def started(self) -> bool:
        return self._writer is not None

    def send(self, kind: str, body: Any = None) -> None:
        if self._writer is None or self._writer.is_closing():
            return  # the other side is gone; what it would have been told no longer matters
        frame = _encoder.encode((kind, msgspec.Raw(_encoder.encode(body))))
        self._writer.write(len(frame).to_bytes(4, "big") + frame)

    def close(self) -> None:
        if self._reading is not None:
            self._reading.cancel()
        if self._writer is not None:
            self._writer.close()
        elif self._sock.fileno() >= 0:
            self._sock.close()

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                size = int.from_bytes(await reader.readexactly(4), "big")
                if size > MAX_FRAME:
                    log.error("link to %s: frame of %d octets, closing", self.name, size)
                    break
                kind, raw = _frame.decode(await reader.readexactly(size))
                handler = self._handlers.get(kind)
                if handler is None:
                    log.error("link to %s: message of unknown kind %r", self.name, kind)
                    continue
                decoder, fn = handler
                try:
                    fn(decoder.decode(raw))
                except Exception:
                    log.exception("link to %s: handling %s", self.name, kind)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except msgspec.DecodeError as e:
            log.error("link to %s: bad frame: %s", self.name, e)
        finally:
            if self.closed is not None and not self.closed.done():
                self.closed.set_result(None)

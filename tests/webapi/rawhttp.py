"""HTTP over a plain socket, for requests httpx will not send (malformed
ones, other methods, lines past the limits)."""

from __future__ import annotations

import socket


def exchange(server, request: bytes, timeout: float = 20) -> bytes:
    """Send bytes to the webapi listener; the whole answer, read until the server closes."""
    with socket.create_connection(("127.0.0.1", server.ports["WebAPIHTTP"]), timeout=timeout) as s:
        s.sendall(request)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)

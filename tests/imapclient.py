"""Small helpers for IMAP tests: an imaplib session logged in to a
localserve, and a raw line-level client for what imaplib cannot send
(IDLE, LITERAL+, SASL-IR, malformed commands)."""

from __future__ import annotations

import imaplib
import socket

from .localserve import ADDRESS, PASSWORD


def login(server, user: str = ADDRESS, password: str = PASSWORD) -> imaplib.IMAP4:
    client = imaplib.IMAP4("127.0.0.1", server.ports["IMAP"], timeout=30)
    client.login(user, password)
    return client


class Raw:
    """IMAP over a plain socket, one line at a time."""

    def __init__(self, port: int, timeout: float = 10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.file = self.sock.makefile("rb")
        self.greeting = self.line()
        self._tag = 0

    def close(self) -> None:
        self.file.close()
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def line(self) -> bytes:
        data = self.file.readline()
        if not data:
            raise ConnectionError("connection closed")
        return data.rstrip(b"\r\n")

    def read_literal(self, size: int) -> bytes:
        return self.file.read(size)

    def tag(self) -> bytes:
        self._tag += 1
        return b"t%d" % self._tag

    def command(self, text: bytes) -> tuple[list[bytes], bytes]:
        """Send a command; return the untagged lines (literals inlined) and the tagged line."""
        tag = self.tag()
        self.send(tag + b" " + text + b"\r\n")
        return self.until(tag)

    def until(self, tag: bytes) -> tuple[list[bytes], bytes]:
        lines = []
        while True:
            line = self.line()
            while line.endswith(b"}") and b"{" in line:
                size = int(line[line.rindex(b"{") + 1:-1].rstrip(b"+"))
                line += b"\r\n" + self.read_literal(size) + self.line()
            if line.startswith(tag + b" "):
                return lines, line
            lines.append(line)

    def login(self, user: str = ADDRESS, password: str = PASSWORD) -> None:
        _, tagged = self.command(b"LOGIN " + user.encode() + b" " + password.encode())
        assert b" OK " in tagged, tagged

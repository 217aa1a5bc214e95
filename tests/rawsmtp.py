"""A bare SMTP client over a socket, for what smtplib will not send:
pipelined commands, bare line feeds, non-ASCII command lines."""

from __future__ import annotations

import socket


class RawSMTP:
    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 10):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.file = self.sock.makefile("rb")
        self.greeting = self.reply()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def reply(self) -> tuple[int, str]:
        """One reply, multi-line ones joined with newlines: (code, text)."""
        lines = []
        while True:
            line = self.file.readline()
            if not line:
                raise ConnectionError("connection closed; got " + repr(lines))
            lines.append(line.decode("utf-8", "replace").rstrip("\r\n"))
            if line[3:4] != b"-":
                break
        return int(lines[0][:3]), "\n".join(l[4:] for l in lines)

    def cmd(self, line: str | bytes) -> tuple[int, str]:
        self.send((line.encode() if isinstance(line, str) else line) + b"\r\n")
        return self.reply()

    def close(self) -> None:
        try:
            self.file.close()  # else the socket stays open while its file object lives
            self.sock.close()
        except OSError:
            pass

    def __enter__(self) -> "RawSMTP":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

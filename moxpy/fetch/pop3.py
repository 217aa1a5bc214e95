"""The POP3 client of fetch rules (RFC 1939), over the standard poplib.

UIDL is required: it is what tells a message already fetched from a new
one across sessions. Messages are marked with DELE only once the local
copy is stored; the server removes them at QUIT (RFC 1939 6), so a session
that breaks off removes nothing.
"""

from __future__ import annotations

import poplib

from .failure import AUTH_FAILED, ERROR, FetchFailure
from .plan import Remote, pop3_key
from .remote import Endpoint, client_context, interrupt

MAX_LINE = 1024 * 1024  # octets; poplib's own limit (2048) is below lines real messages have


class _POP3Limits:
    """poplib with a longer line limit and a cap on a message's size."""

    max_size = 0

    def _getline(self):
        line = self.file.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise FetchFailure(ERROR, "the POP3 server sent a line longer than 1 MiB")
        if not line:
            raise EOFError("connection closed")
        octets = len(line)
        if line[-2:] == b"\r\n":
            return line[:-2], octets
        return line.rstrip(b"\r\n"), octets

    def _getlongresp(self):
        response = self._getresp()
        lines, octets = [], 0
        line, size = self._getline()
        while line != b".":
            if line.startswith(b".."):  # RFC 1939 3: byte-stuffed
                size -= 1
                line = line[1:]
            octets += size
            if self.max_size and octets > self.max_size:
                raise FetchFailure(ERROR, f"the POP3 server sent a message over {self.max_size} octets, "
                                          "more than it said it had")
            lines.append(line)
            line, size = self._getline()
        return response, lines, octets


class _POP3Plain(_POP3Limits, poplib.POP3):
    pass


class _POP3Implicit(_POP3Limits, poplib.POP3_SSL):
    pass


def _text(e: poplib.error_proto) -> str:
    arg = e.args[0] if e.args else b""
    return arg.decode("utf-8", "replace") if isinstance(arg, bytes) else str(arg)


class POP3Mailbox:
    uidvalidity = 0

    def __init__(self, endpoint: Endpoint):
        self.endpoint = endpoint
        self._sizes: dict[int, int] = {}
        if endpoint.tls == "implicit":
            self._client = _POP3Implicit(endpoint.host, endpoint.port, timeout=endpoint.timeout,
                                     context=client_context(endpoint.skip_verify))
        else:
            self._client = _POP3Plain(endpoint.host, endpoint.port, timeout=endpoint.timeout)
        self._client.max_size = endpoint.max_size
        try:
            self.peer_ip = self._client.sock.getpeername()[0]
            if endpoint.tls == "starttls":
                try:
                    self._client.stls(client_context(endpoint.skip_verify))  # RFC 2595 4
                except poplib.error_proto as e:
                    raise FetchFailure(ERROR, f"STLS: {_text(e)}") from None
            self.with_protocol = "POP3" if endpoint.tls == "none" else "POP3S"
            self._login()
        except BaseException:
            self.abort()
            raise

    def _login(self) -> None:
        try:
            self._client.user(self.endpoint.username)
            self._client.pass_(self.endpoint.password)
        except poplib.error_proto as e:
            text = _text(e)
            # RFC 3206 4 and 5: SYS and IN-USE say the server cannot now, not that the login is wrong.
            if "[SYS/" in text or "[IN-USE]" in text:
                raise FetchFailure(ERROR, f"login: {text}") from None
            raise FetchFailure(AUTH_FAILED, f"login refused: {text}") from None

    def listing(self) -> list[Remote]:
        try:
            _, uidls, _ = self._client.uidl()
        except poplib.error_proto as e:
            raise FetchFailure(ERROR, "the POP3 server does not support UIDL (RFC 1939 7), needed to tell "
                                      f"fetched messages from new ones: {_text(e)}") from None
        _, sizes, _ = self._client.list()
        for line in sizes:
            number, size = line.split()[:2]
            self._sizes[int(number)] = int(size)
        result = []
        for line in uidls:
            number, uidl = line.decode("ascii", "replace").split()[:2]
            result.append(Remote(key=pop3_key(uidl), ref=int(number), size=self._sizes.get(int(number), 0)))
        return result

    def retrieve(self, item: Remote) -> bytes | None:
        try:
            _, lines, _ = self._client.retr(item.ref)
        except poplib.error_proto:
            return None  # RFC 1939 5: no such message
        return b"".join(line + b"\r\n" for line in lines)

    def delete(self, item: Remote) -> None:
        self._client.dele(item.ref)

    def close(self) -> None:
        try:
            self._client.quit()  # RFC 1939 6: the UPDATE state removes what DELE marked
        except poplib.error_proto as e:
            raise FetchFailure(ERROR, f"QUIT: {_text(e)}") from None
        finally:
            self.abort()

    def abort(self) -> None:
        try:
            self._client.close()
        except OSError:
            pass

    def interrupt(self) -> None:
        interrupt(self._client.sock)

"""SMTP listeners on aiosmtpd, running on the shared event loop.

One handler class per role: delivery (delivery.py; port 25, 1025 in
localserve) takes mail for local addresses and stores it; submission
(submission.py; 587 with STARTTLS and 465 with implicit TLS, 1587 and 1465
in localserve) takes authenticated mail from accounts and queues it.
Handlers decide; the store and queue do the work. checks.py verifies
incoming mail (DKIM, SPF, DMARC). Replies are made from the named codes
of moxpy.smtp.codes; replies.py has those both roles give.

This module adapts aiosmtpd's protocol where the standards ask more of it:
every reply after EHLO carries an enhanced status code (RFC 2034), and
PIPELINING (RFC 2920) and ENHANCEDSTATUSCODES are announced.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import re
import ssl
import time

from aiosmtpd.smtp import SMTP, Session, syntax

from .. import config as configlib
from .. import metrics
from ..connlimit import ConnectionLimit
from ..message.status import from_reply
from ..smtp import path as smtppath
from ..smtp.codes import Enhanced, Reply, reply
from . import localserve, replies

log = logging.getLogger("moxpy.smtpserver")

# RFC 5321 4.5.3.1.6: a text line is at most 1000 octets with its CRLF, plus
# one for a dot added by transparency (4.5.2).
LINE_LENGTH_LIMIT = 1001
# RFC 5321 4.5.3.1.4: a command line is at most 512 octets; extensions add to
# MAIL (done by aiosmtpd). RFC 4954 4: AUTH with an initial response is longer.
AUTH_LINE_LIMIT = 1000

# RFC 3463 enhanced codes for replies aiosmtpd makes without one.
_ENHANCED = {
    221: "2.0.0", 250: "2.0.0", 251: "2.1.5", 252: "2.0.0",
    421: "4.3.0", 450: "4.2.0", 451: "4.3.0", 452: "4.5.3", 454: "4.7.0",
    500: "5.5.2", 501: "5.5.4", 502: "5.5.1", 503: "5.5.1", 504: "5.5.4",
    530: "5.7.0", 535: "5.7.8", 538: "5.7.11", 550: "5.0.0", 552: "5.3.4", 553: "5.1.3",
    554: "5.0.0", 555: "5.5.4",
}
_REPLY = re.compile(r"^([2-5][0-9][0-9])([ -])(.*)$", re.DOTALL)


def with_enhanced_code(reply: str) -> str:
    """The reply with an RFC 3463 enhanced status code after its code, if it lacks one.

    Greetings (220), AUTH challenges (334) and the DATA go-ahead (354) carry
    none (RFC 2034 3).
    """
    m = _REPLY.match(reply)
    if not m:
        return reply
    code, sep, text = int(m.group(1)), m.group(2), m.group(3)
    if code in (220, 334, 354) or from_reply(text):
        return reply
    enhanced = _ENHANCED.get(code, f"{code // 100}.0.0")
    return f"{code}{sep}{enhanced} {text}" if text else f"{code}{sep}{enhanced}"


class _Session(Session):
    """aiosmtpd's session without its deprecation warning on every AUTH."""

    @property
    def login_data(self):
        return self._login_data

    @login_data.setter
    def login_data(self, value) -> None:
        self._login_data = value


class SMTPProtocol(SMTP):
    """aiosmtpd's SMTP protocol with enhanced status codes on every reply."""

    def __init__(self, handler, *, implicit_tls: bool = False, auth_require_tls: bool = True,
                 connection_limit: ConnectionLimit | None = None, **kwargs):
        # aiosmtpd warns on every connection when AUTH does not need TLS; we decide
        # that per listener (implicit TLS, or localserve on loopback) and set it after.
        super().__init__(handler, auth_require_tls=True, **kwargs)
        self._auth_require_tls = auth_require_tls
        # aiosmtpd keeps these limits in a dict shared by all connections; keep ours per connection.
        self.command_size_limits = collections.defaultdict(lambda: SMTP.command_size_limit)
        self.command_size_limits["AUTH"] = AUTH_LINE_LIMIT
        self.implicit_tls = implicit_tls
        self._in_hello = False
        self._in_data = False
        self._started = time.monotonic()
        self._messages = 0  # accepted in this session
        self._data_started = False  # the DATA command in progress was answered with 354
        self._last_reply = ""
        self._connection_limit = connection_limit
        self._slot_ip: str | None = None  # the address holding a slot of connection_limit
        self._refused = False
        self._checked_path = ""  # the last MAIL or RCPT argument _path_checked found valid

    def _create_session(self) -> Session:
        return _Session(self.loop)

    def _cb_client_connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        super()._cb_client_connected(reader, writer)
        # aiosmtpd skips a command line longer than its reader's limit until its
        # line end, so a stream without one is never answered; we answer and close.
        # The reader is made by aiosmtpd, so its readuntil (readline's too) is wrapped.
        read_line = reader.readuntil

        async def readuntil(separator: bytes = b"\n") -> bytes:
            try:
                return await read_line(separator)
            except asyncio.LimitOverrunError:
                if self._in_data:
                    raise  # aiosmtpd handles long message lines itself
                await self._line_too_long(reader)
                return await read_line(separator)  # cancelled when the connection is gone

        reader.readuntil = readuntil

    async def _line_too_long(self, reader: asyncio.StreamReader) -> None:
        # RFC 5321 4.5.3.1.4: a command line is at most 512 octets (AUTH's up to
        # 1000, RFC 4954 4); the reader stops at 1001, past every command's limit.
        await self.push(reply(Reply.SYNTAX_ERROR, Enhanced.SYNTAX_ERROR,
                              f"line too long, smtp max is 512, we reached {LINE_LENGTH_LIMIT}"))
        # Drop what is buffered, so the read that follows waits, until the closed
        # connection cancels the session (the reader has no public way to discard).
        reader._buffer.clear()
        if self.transport is not None:
            self.transport.close()

    @syntax("STARTTLS", when="tls_context")
    async def smtp_STARTTLS(self, arg: str):
        if self.tls_active:
            # RFC 3207 4.2: no STARTTLS within TLS, whether implicit or started.
            await self.push(reply(Reply.BAD_SEQUENCE, Enhanced.INVALID_COMMAND, "already speaking tls"))
            return
        await super().smtp_STARTTLS(arg)

    async def _path_checked(self, arg: str | None, keyword: str, *, reverse: bool) -> bool:
        """Whether the MAIL or RCPT argument has RFC 5321 4.1.2 syntax; if not,
        the 501 is sent. aiosmtpd's parser takes much that is not a path."""
        if arg is None or arg[: len(keyword)].upper() != keyword:
            return True  # aiosmtpd answers with its syntax reply
        try:
            smtppath.split_path_argument(arg[len(keyword):], null_ok=reverse, postmaster_ok=not reverse)
        except smtppath.PathError as e:
            what = Enhanced.INVALID_ARGUMENTS if e.param else (
                Enhanced.BAD_SENDER_SYNTAX if reverse else Enhanced.BAD_DESTINATION_SYNTAX)
            await self.push(reply(Reply.PARAMETER_SYNTAX_ERROR, what, str(e)))
            return False
        self._checked_path = arg[len(keyword):].strip()
        return True

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """aiosmtpd's split of a MAIL or RCPT argument into address and parameters. It parses with the
        email package's header parser, which costs more than the rest of the command; a path checked
        above without quotes or source route (nearly every one) splits at its ">" with the same result."""
        if arg == self._checked_path and '"' not in arg and not arg.startswith("<@"):
            end = arg.find(">")
            path = arg[1:end]
            if not (self.local_part_limit and len(path.rpartition("@")[0]) > self.local_part_limit):
                return path or "<>", arg[end + 1:].lstrip()
        return super()._getaddr(arg)

    @syntax("MAIL FROM: <address>", extended=" [SP <mail-parameters>]")
    async def smtp_MAIL(self, arg: str | None) -> None:
        if await self.check_helo_needed() or await self.check_auth_needed("MAIL"):
            return
        if self.envelope is not None and self.envelope.mail_from:
            await super().smtp_MAIL(arg)  # its "nested MAIL" reply comes first
            return
        if await self._path_checked(arg, "FROM:", reverse=True):
            await super().smtp_MAIL(arg)

    @syntax("RCPT TO: <address>", extended=" [SP <mail-parameters>]")
    async def smtp_RCPT(self, arg: str | None) -> None:
        if await self.check_helo_needed() or await self.check_auth_needed("RCPT"):
            return
        if self.envelope is None or not self.envelope.mail_from:
            await super().smtp_RCPT(arg)  # its "need MAIL" reply comes first
            return
        if await self._path_checked(arg, "TO:", reverse=False):
            await super().smtp_RCPT(arg)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Called again by aiosmtpd after STARTTLS; the cap is checked on the first call only.
        if self.transport is None and self._connection_limit is not None and self._slot_ip is None:
            peer = transport.get_extra_info("peername")
            ip = peer[0] if isinstance(peer, tuple) else ""
            if not self._connection_limit.acquire(ip):
                # As mox: 421 and close, before any greeting (RFC 5321 3.1 allows 421 in place of 220).
                self._refused = True
                transport.write(b"421 4.7.0 too many open connections from your address or network\r\n")
                transport.close()
                return
            self._slot_ip = ip
        super().connection_made(transport)
        if self.implicit_tls and self.session is not None and self.session.ssl is None:
            # aiosmtpd only notices TLS begun with STARTTLS.
            ssl_object = transport.get_extra_info("ssl_object")
            if ssl_object is not None:
                self.session.ssl = {"ssl_object": ssl_object, "cipher": ssl_object.cipher(),
                                    "version": ssl_object.version()}

    def eof_received(self) -> bool | None:
        if self._refused:
            return False
        return super().eof_received()

    @property
    def tls_active(self) -> bool:
        return self.session is not None and self.session.ssl is not None

    def connection_lost(self, error: Exception | None) -> None:
        role = getattr(self.event_handler, "role", "smtp")
        if self._slot_ip is not None:
            self._connection_limit.release(self._slot_ip)
            self._slot_ip = None
        if self._refused:
            metrics.smtp_session(role, "refused")
            return  # aiosmtpd never saw this connection
        # 221 answers QUIT (RFC 5321 4.2.2); with 421 the server closes the connection (3.8).
        metrics.smtp_session(role, {"221": "quit", "421": "closed"}.get(self._last_reply[:3], "dropped"))
        session = self.session
        peer = session.peer[0] if session is not None and isinstance(session.peer, tuple) else "-"
        # One line per session; never message contents or credentials.
        log.info("smtp session role=%s remote=%s tls=%s login=%s messages=%d duration=%.3fs last=%r",
                 role, peer, "yes" if self.tls_active else "no",
                 getattr(getattr(session, "auth_data", None), "account", "") or "-", self._messages,
                 time.monotonic() - self._started, self._last_reply[:60])
        super().connection_lost(error)

    async def smtp_DATA(self, arg: str):
        self._in_data = True
        try:
            await super().smtp_DATA(arg)
        finally:
            self._in_data = False
            self._data_started = False

    async def push(self, status) -> None:
        if isinstance(status, str) and not self._in_hello and self.session is not None and self.session.extended_smtp:
            status = with_enhanced_code(status)
        if isinstance(status, str):
            self._last_reply = status
            if self._in_data and status.startswith("250"):
                self._messages += 1
            if self._in_data and status.startswith("354"):
                self._data_started = True
            elif self._data_started and status[:1] in ("2", "4", "5"):
                # The answer to a message's content, once per message (not to a DATA refused before 354).
                self._data_started = False
                metrics.smtp_message(getattr(self.event_handler, "role", "smtp"),
                                     {"2": "accepted", "4": "temperror"}.get(status[:1], "permerror"))
        await super().push(status)

    async def stall(self, seconds: float, stopping: asyncio.Event) -> None:
        """Hold the current command for up to seconds without holding up other
        connections. Ends early when stopping is set; a client that disconnects
        ends it too, as aiosmtpd then cancels the session's task."""
        # aiosmtpd's idle timer would close the connection after 5 minutes.
        self._reset_timeout(seconds + 60)
        peer = self.session.peer[0] if self.session is not None and isinstance(self.session.peer, tuple) else "-"
        log.info("stalling command for localserve timeout localpart remote=%s seconds=%d", peer, seconds)
        started = time.monotonic()
        try:
            await asyncio.wait_for(stopping.wait(), seconds)
            reason = "server stopping"
        except TimeoutError:
            reason = "time up"
        except asyncio.CancelledError:
            log.info("stall ended reason=%r remote=%s duration=%.1fs", "client disconnected", peer,
                     time.monotonic() - started)
            raise
        log.info("stall ended reason=%r remote=%s duration=%.1fs", reason, peer, time.monotonic() - started)

    async def smtp_EHLO(self, hostname: str):
        # RFC 2034 3: replies to EHLO itself carry no enhanced codes.
        self._in_hello = True
        try:
            await super().smtp_EHLO(hostname)
        finally:
            self._in_hello = False


# A domain (Unicode allowed, RFC 6531 3.7.1) or an address literal such as [192.0.2.1] or [IPv6:...].
_HELLO_NAME = re.compile(r"^(?:[\w-]+(?:\.[\w-]+)*\.?|\[[0-9A-Fa-f:.IPv6]+\])$")


class Handler:
    """What both roles share: the EHLO reply, errors that escape a handler,
    and localserve's simulated failures."""

    config: configlib.Source  # set by each role
    _stopping: asyncio.Event | None = None

    def _stopping_event(self) -> asyncio.Event:
        if self._stopping is None:
            self._stopping = asyncio.Event()
        return self._stopping

    def stop(self) -> None:
        """The server is stopping: release commands stalled by "timeout" localparts."""
        self._stopping_event().set()

    async def simulate(self, server: SMTPProtocol, failure) -> str:
        """The reply of a localserve.Failure, after its stall if it has one."""
        if failure.stall:
            await server.stall(failure.stall, self._stopping_event())
        return failure.reply

    async def simulated_failure(self, server: SMTPProtocol, command: str, address: str) -> str | None:
        """In localserve: the reply of the failure address asks for at MAIL or RCPT
        (localserve.error_at), after its stall; None when it asks for none."""
        if not self.config.current().Localserve:
            return None
        failure = localserve.error_at(command, address)
        return await self.simulate(server, failure) if failure else None

    async def handle_exception(self, error: Exception) -> str:
        # Instead of aiosmtpd's "500 Error: (ExceptionName) ...": no internals to the client.
        log.error("smtp session: %s", error, exc_info=error)
        return replies.try_again_later("internal error")

    async def handle_EHLO(self, server: SMTP, session: Session, envelope, hostname: str,
                          responses: list[str]) -> list[str]:
        if not _HELLO_NAME.match(hostname):
            # RFC 5321 4.1.1.1: a domain or an address literal; it ends up in our Received header.
            return [reply(Reply.PARAMETER_SYNTAX_ERROR, Enhanced.INVALID_ARGUMENTS,
                          "EHLO needs a domain name or address literal")]
        session.host_name = hostname
        # A listener without mechanisms (delivery) does not offer AUTH at all.
        responses = [r for r in responses if r.strip() != "250-AUTH"]
        if session.ssl is not None:
            # RFC 3207 4.2: STARTTLS is not offered within TLS (aiosmtpd only knows of STARTTLS it did).
            responses = [r for r in responses if r.strip() != "250-STARTTLS"]
        # aiosmtpd handles pipelined commands in order; say so (RFC 2920), and
        # that every reply carries an RFC 3463 code (RFC 2034).
        return responses[:-1] + ["250-PIPELINING", "250-ENHANCEDSTATUSCODES", responses[-1]]


def smtp_factory(handler, *, hostname: str, data_size_limit: int, loop: asyncio.AbstractEventLoop,
                 tls_context: ssl.SSLContext | None = None, **kwargs):
    """A protocol factory for loop.create_server.

    tls_context offers STARTTLS; for implicit TLS pass the context to
    create_server instead and implicit_tls=True here.
    """

    def factory() -> SMTP:
        return SMTPProtocol(
            handler,
            hostname=hostname,
            ident="moxpy",
            data_size_limit=data_size_limit,
            enable_SMTPUTF8=True,
            decode_data=False,
            tls_context=tls_context,
            loop=loop,
            **kwargs,
        )

    return factory

"""One IMAP connection: reading command lines and literals, dispatching
each command to its handler, running handlers that wait, writing
responses (with flow control for long ones), and telling the client of
changes made elsewhere.

Twisted's IMAP4Server does the line and literal framing; the commands
and their argument readers come from a table (commands.py) rather than
from Twisted's own handlers. A command that waits on the store or a
password check pauses reading from the client until it is answered, so
pipelined commands (and their literals) are handled in order, and their
responses come in order too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import partial
from inspect import iscoroutinefunction

from twisted.internet import defer
from twisted.mail import imap4

from .. import metrics
from ..backpressure import Backpressure
from ..store import STORAGE_UNAVAILABLE, Account, storage_unavailable
from . import arguments, condstore, syntax
from . import fetch as fetchlib
from .view import MailboxView

log = logging.getLogger("moxpy.imapserver")

WRITE_BATCH = 256 * 1024  # octets of untagged responses written at once

# RFC 3501 3: the states a command may be given in.
NOT_AUTHENTICATED = frozenset({"unauth"})
AUTHENTICATED = frozenset({"auth", "select"})
SELECTED = frozenset({"select"})
ANY = NOT_AUTHENTICATED | AUTHENTICATED


class Response(Exception):
    """A tagged NO or BAD ending a command; text may start with a response code like [TRYCREATE]."""

    def __init__(self, status: bytes, text: bytes):
        super().__init__(text)
        self.status = status
        self.text = text


def No(text: bytes) -> Response:
    return Response(b"NO", text)


def Bad(text: bytes) -> Response:
    return Response(b"BAD", text)


@dataclass(frozen=True)
class Command:
    """An IMAP command: the states it is allowed in, its argument readers and its handler.

    A plain handler(session, tag, *arguments) answers the command itself. A coroutine handler
    handler(session, *arguments) returns the text of its tagged OK, or raises Response (NO, BAD)
    or syntax.CommandSyntaxError (BAD); the session runs it with reading paused and answers.
    """

    name: bytes
    states: frozenset[str]
    handler: Callable
    arguments: tuple = ()  # readers from arguments.py, in order
    uid_form: bool = False  # also given as UID <name> (RFC 3501 6.4.8); the handler gets by_uid=
    # RFC 3501 7.4.1: while it runs with sequence numbers (not as UID command), EXPUNGE responses wait.
    holds_expunge: bool = False


class CutShort(Exception):
    """Raised by the batches given to Session.stream when a response already begun cannot be completed
    (the message being sent was removed meanwhile): the connection is closed, as nothing more can follow."""


class _Discard:
    """A literal's octets, counted and dropped: a message refused as too large still arrives when the
    client did not wait for a continuation (RFC 7888 {N+}). Same interface as imap4.LiteralString."""

    def __init__(self, size: int, deferred: defer.Deferred):
        self.size = size
        self.defer = deferred

    def write(self, data: bytes) -> bytes | None:
        if len(data) < self.size:
            self.size -= len(data)
            return None
        rest, self.size = data[self.size:], 0
        return rest

    def callback(self, line: bytes) -> None:
        self.defer.callback((None, line))


# RFC 3501 9: tag = 1*<any ASTRING-CHAR except "+">: printable ASCII without space and ( ) { % * " \ +.
_TAG = re.compile(rb'[^\x00-\x20\x7f-\xff(){%*"\\+]+')

# The TLS record type of a ClientHello (RFC 8446 5.1): a client speaking TLS to the plain-text port.
TLS_HANDSHAKE = 0x16


class Session(imap4.IMAP4Server):
    """One client connection, from the greeting to LOGOUT or disconnect."""

    IDENT = b"moxpy IMAP4rev1 ready"
    MAX_LENGTH = 1024 * 1024  # longest command line once logged in; UID sets of large mailboxes get long
    # Before login the commands are short (LOGIN, AUTHENTICATE, STARTTLS, ID): a line without end is
    # cut off early, as mox does at 16 KiB.
    UNAUTH_MAX_LENGTH = 16 * 1024

    def __init__(self, factory, commands: dict[bytes, Command]):
        super().__init__(contextFactory=factory.tls_options)
        self.factory = factory
        self.commands = commands
        self.account: Account | None = None
        self.account_name = ""
        self.selected: MailboxView | None = None
        self.idling = False  # in IDLE (RFC 2177): changes are reported as they happen
        self.enabled: set[bytes] = set()  # extensions the client enabled (RFC 5161; see condstore.py), upper case
        self._unsubscribe = None
        self._line_callback: Callable[[bytes], None] | None = None
        self._report_scheduled = False
        self._lost = False
        self._first_data = True
        self._commands_seen = 0  # command lines with a valid tag
        self.startedTLS = factory.implicit_tls
        self._holds_slot = False  # of the factory's connection_limit
        self._refused = False  # over the connection limit: told BYE, closing
        self.MAX_LENGTH = self.UNAUTH_MAX_LENGTH

    # Connection.

    def connectionMade(self):
        self.remote_ip = getattr(self.transport.getPeer(), "host", "")
        self._started = time.monotonic()
        limit = self.factory.connection_limit
        if limit is not None:
            if not limit.acquire(self.remote_ip):
                # As mox: an untagged BYE in place of the greeting (RFC 9051 7.1.5), then close.
                self._refused = True
                self.transport.write(b"* BYE too many open connections from your address or network\r\n")
                self.transport.loseConnection()
                return
            self._holds_slot = True
        metrics.imap_session(True)
        super().connectionMade()

    def connectionLost(self, reason):
        if self._holds_slot:
            self._holds_slot = False
            self.factory.connection_limit.release(self.remote_ip)
        if self._refused:
            return  # never greeted: no session to end
        metrics.imap_session(False)
        # One line per session; never credentials or message contents.
        log.info("imap session account=%s remote=%s tls=%s duration=%.3fs", self.account_name or "-",
                 self.remote_ip, "yes" if self.startedTLS else "no", time.monotonic() - getattr(self, "_started", 0))
        self._lost = True
        if self._unsubscribe:
            self._unsubscribe()
            self._unsubscribe = None
        super().connectionLost(reason)

    def dataReceived(self, data):
        if self._refused:
            return  # what arrives while a refused connection closes is not read
        if self._first_data and data:
            self._first_data = False
            if data[0] == TLS_HANDSHAKE and not self.startedTLS:
                # Nothing IMAP starts with a control character; a TLS client would wait for a
                # ServerHello that never comes. Say so and close instead.
                self.sendLine(b"* BYE TLS handshake on the plain-text IMAP port, use STARTTLS or the implicit TLS port")
                self.transport.loseConnection()
                return
        super().dataReceived(data)

    def lineReceived(self, line):
        # As Twisted's, except that an unexpected error ends the command with a tagged BAD
        # instead of an untagged one carrying the exception's text.
        self.resetTimeout()
        state = self.parseState
        try:
            getattr(self, "parse_" + state)(line)
        except Exception:
            log.exception("imap command failed account=%s", self.account_name)
            tag = line.split(b" ", 1)[0] if state == "command" else None
            self.sendBadResponse(tag or None, b"internal error")

    def parse_command(self, line):
        # RFC 3501 9: a tag is printable ASCII without specials. A bad one is not echoed: the answer is
        # untagged. On a first line it means the client speaks something else than IMAP (as mox, close).
        tag = line.split(None, 1)[0] if line.split(None, 1) else b""
        if tag and not _TAG.fullmatch(tag):
            if not self._commands_seen:
                self.sendLine(b"* BYE not an IMAP command, the line must start with a tag of printable ASCII")
                self.transport.loseConnection()
                return
            self.sendBadResponse(None, b"malformed tag, expected printable ASCII without spaces or specials")
            self._skip_nonsync_literal(line)
            return
        self._commands_seen += 1
        # What the other process committed and relayed before this command came is reported with it.
        self.factory.store.catch_up()
        return super().parse_command(line)

    def lineLengthExceeded(self, line):
        self.sendLine(b"* BYE command line too long")
        self.transport.loseConnection()

    def read_line(self, callback: Callable[[bytes], None]) -> None:
        """Hand the next line from the client to callback instead of reading it as a command."""
        self._line_callback = callback
        self.parseState = "line"

    def parse_line(self, line):
        callback, self._line_callback = self._line_callback, None
        self.parseState = "command"
        callback(line)

    # State.

    def listCapabilities(self):
        """The capabilities in the greeting, CAPABILITY and LOGIN's response (RFC 3501 7.2.1)."""
        caps = [b"IMAP4rev1", b"IMAP4rev2", b"LITERAL+", b"SASL-IR", b"IDLE", b"NAMESPACE", b"ID", b"UIDPLUS",
                b"MOVE", b"UNSELECT", b"ENABLE", b"CHILDREN", b"SPECIAL-USE", b"STATUS=SIZE", b"CONDSTORE",
                b"QRESYNC", b"ESEARCH", b"SEARCHRES", b"APPENDLIMIT=%d" % self.factory.max_message_size(),
                b"MULTIAPPEND", b"BINARY", b"LIST-EXTENDED", b"LIST-STATUS"]
        if self.state == "unauth":
            if self.factory.tls_options is not None and not self.startedTLS:
                caps.append(b"STARTTLS")
            if self.scram_offered():
                caps.append(b"AUTH=SCRAM-SHA-256")
            caps.append(b"AUTH=PLAIN" if self.login_allowed() else b"LOGINDISABLED")
        return caps

    def login_allowed(self) -> bool:
        return self.startedTLS or self.factory.plaintext_login

    def scram_offered(self) -> bool:
        """Whether AUTH=SCRAM-SHA-256 is offered: logins are allowed, and an account has a SCRAM verifier (made
        when its password was set), without which the exchange cannot succeed."""
        return self.login_allowed() and any(a.SCRAMSHA256 for a in self.factory.config.current().Accounts.values())

    def logged_in(self, account_name: str) -> None:
        """Enter the authenticated state (RFC 3501 3.2) for an account, hearing of its changes from now on."""
        self.account_name = account_name
        self.account = self.factory.store.account(account_name)
        unsubscribe = self.account.subscribe(self._on_change)
        unwatch = self.account.on_removed(self._account_removed)
        self._unsubscribe = lambda: (unsubscribe(), unwatch())
        self.state = "auth"
        self.MAX_LENGTH = type(self).MAX_LENGTH
        self.setTimeout(self.POSTAUTH_TIMEOUT)

    def select(self, view: MailboxView) -> None:
        """Enter the selected state (RFC 3501 3.3) with a mailbox."""
        self.selected = view
        self.state = "select"

    def deselect(self) -> None:
        self.selected = None
        if self.state == "select":
            self.state = "auth"

    # Dispatch: as Twisted's, but from the command table, and with errors in plain words. Twisted's
    # repeats the exception's text, or the rest of the line as a Python repr, to the client.

    def dispatchCommand(self, tag, cmd, rest, uid=None):
        self.dispatch(tag, cmd, rest or b"", by_uid=bool(uid))

    def dispatch(self, tag: bytes, name: bytes, line: bytes, by_uid: bool = False) -> None:
        """Read a command's arguments from line (and literals after it), then run it."""
        command = self.commands.get(name.upper())
        if command is None or self.state not in command.states or (by_uid and not command.uid_form):
            self.sendBadResponse(tag, b"unknown command, or not allowed in this state")
            self._skip_nonsync_literal(line)
            return
        self._read_arguments(tag, command, by_uid, [], list(command.arguments), line)

    def _read_arguments(self, tag: bytes, command: Command, by_uid: bool, args: list, readers: list,
                        line: bytes) -> None:
        try:
            while readers:
                result = readers[0](line)
                if isinstance(result, arguments.Literal):
                    if result.file and result.size > self.factory.max_message_size():
                        self._refuse_message(tag, result)
                        return
                    self._read_literal(result, partial(self._literal_read, tag, command, by_uid, args, readers))
                    return
                value, line = result
                args.append(value)
                readers = readers[1:]
            if line:
                raise syntax.CommandSyntaxError("too many arguments")
            self._start(tag, command, by_uid, args)
        except syntax.CommandSyntaxError as e:
            self.sendBadResponse(tag, syntax.plain_text(str(e)))
            self._skip_nonsync_literal(line)
        except Exception:
            log.exception("imap command failed account=%s", self.account_name)
            self.sendBadResponse(tag, b"internal error")

    def _literal_read(self, tag, command, by_uid, args, readers, literal: arguments.Literal, data, rest) -> None:
        try:
            result = literal.resume(data, rest)
            if isinstance(result, arguments.Literal):
                if result.file and result.size > self.factory.max_message_size():
                    self._refuse_message(tag, result)  # a later message of a MULTIAPPEND (RFC 3502)
                    return
                self._read_literal(result, partial(self._literal_read, tag, command, by_uid, args, readers))
                return
        except syntax.CommandSyntaxError as e:
            self.sendBadResponse(tag, syntax.plain_text(str(e)))
            self._skip_nonsync_literal(rest)
            return
        except Exception:
            log.exception("imap command failed account=%s", self.account_name)
            self.sendBadResponse(tag, b"internal error")
            return
        value, rest = result
        if rest[:1] == b" ":
            rest = rest[1:]  # the space between a literal and the next argument
        args.append(value)
        self._read_arguments(tag, command, by_uid, args, readers[1:], rest)

    def _read_literal(self, literal: arguments.Literal, then: Callable) -> None:
        """Read a literal's octets, then call then(literal, data, rest of the line after it)."""
        d = defer.Deferred()
        d.addCallback(lambda result: then(literal, *result))
        self.parseState = "pending"
        self._pendingLiteral = (imap4.LiteralFile if literal.file else imap4.LiteralString)(literal.size, d)
        if not literal.nonsync:
            # RFC 7888: a non-synchronizing literal {N+} follows without waiting for this.
            self.sendContinuationRequest(b"ready for literal data")
        self.setRawMode()

    def _refuse_message(self, tag: bytes, literal: arguments.Literal) -> None:
        """APPEND of a message over the limit APPENDLIMIT announces (RFC 7889): NO [TOOBIG] without reading it."""
        text = b"[TOOBIG] message too large, at most %d octets" % self.factory.max_message_size()
        if not literal.nonsync:
            # RFC 9051 7.1 (and 7.5): a command may be refused instead of sent a continuation request;
            # the client then does not send the literal.
            self.sendNegativeResponse(tag, text)
            return
        # RFC 7888 {N+}: the octets come anyway. Drop them as they arrive, then answer.
        self._discard(literal.size, lambda rest: self.sendNegativeResponse(tag, text))

    def _skip_nonsync_literal(self, line: bytes) -> None:
        """After a command was answered BAD: when its line ends in a non-synchronizing literal, the
        literal follows anyway (RFC 7888 4). Drop it, and any further ones of the same command, so that
        its octets are not read as commands."""
        m = syntax.LITERAL_AT_END.search(line)
        if m and m.group(2) and self.transport is not None and not self.transport.disconnecting:
            self._discard(int(m.group(1)), self._skip_nonsync_literal)

    def _discard(self, size: int, then: Callable[[bytes], None]) -> None:
        """Read size octets without keeping them, then call then(the line after them)."""
        d = defer.Deferred()
        d.addCallback(lambda result: then(result[1]))
        self.parseState = "pending"
        self._pendingLiteral = _Discard(size, d)
        self.setRawMode()

    def _start(self, tag: bytes, command: Command, by_uid: bool, args: list) -> None:
        kwargs = {"by_uid": by_uid} if command.uid_form else {}
        if not iscoroutinefunction(command.handler):
            command.handler(self, tag, *args, **kwargs)
            return
        allow_expunge = by_uid or not command.holds_expunge
        self.run(tag, command.handler(self, *args, **kwargs), allow_expunge)

    # Running commands that wait.

    def run(self, tag: bytes, coro, allow_expunge: bool = True) -> None:
        """Run a command's coroutine; stop reading further commands until it is answered."""
        self.pauseProducing()
        future = asyncio.ensure_future(coro)
        future.add_done_callback(partial(self._done, tag, allow_expunge))

    def _done(self, tag: bytes, allow_expunge: bool, future: asyncio.Future) -> None:
        if self._lost:
            if not future.cancelled() and future.exception() is not None and not isinstance(future.exception(), Response):
                log.error("imap command failed after disconnect", exc_info=future.exception())
            return
        try:
            status, text = b"OK", future.result()
        except Response as e:
            status, text = e.status, e.text
        except syntax.CommandSyntaxError as e:
            status, text = b"BAD", syntax.plain_text(str(e))
        except Exception as e:
            if storage_unavailable(e):
                log.warning("imap command failed account=%s: %s: %s", self.account_name, STORAGE_UNAVAILABLE, e)
                status, text = b"NO", b"[UNAVAILABLE] " + STORAGE_UNAVAILABLE.encode()
            else:
                log.exception("imap command failed account=%s", self.account_name)
                status, text = b"NO", b"[SERVERBUG] internal error"
        self.report(allow_expunge)
        self._respond(status, tag, text)
        if not self._lost and self.transport is not None and not self.transport.disconnecting:
            self.resumeProducing()

    # Responses.

    def write(self, lines: list[bytes]) -> None:
        """Send untagged response lines (without their CRLF)."""
        if lines:
            self.transport.write(b"".join(line + b"\r\n" for line in lines))

    async def stream(self, batches: AsyncIterator[list[bytes]]) -> bool:
        """Send many response lines (with their CRLF) as they are made, in writes of at least WRITE_BATCH octets,
        waiting while the client reads slower; False when the connection was lost meanwhile, or closed here
        because the batches raised CutShort."""
        backpressure = Backpressure()
        self.transport.registerProducer(backpressure, True)
        out: list[bytes] = []
        size = 0
        try:
            async with contextlib.aclosing(batches):
                async for lines in batches:
                    if self._lost:
                        return False
                    out += lines
                    size += sum(map(len, lines))
                    if size >= WRITE_BATCH:
                        self.transport.write(b"".join(out))
                        out, size = [], 0
                        await asyncio.sleep(0)  # let other sessions run
                        await backpressure.wait()
                        if self._lost:
                            return False
            if self._lost:
                return False
            if out:
                self.transport.write(b"".join(out))
            return True
        except CutShort as e:
            # RFC 3501 4.3: a literal has the octets it announced; once begun, the response cannot end otherwise.
            log.info("imap response cut short, closing the connection account=%s: %s", self.account_name, e)
            self._lost = True  # nothing more is written: not the tagged answer, nor changes of others
            self.transport.unregisterProducer()
            self.transport.loseConnection()
            return False
        finally:
            if not self._lost:
                self.transport.unregisterProducer()

    # Changes made by others.

    def _account_removed(self) -> None:
        """The account is being deleted: RFC 3501 7.1.5, an untagged BYE, then the connection closes."""
        if self._lost or self.transport is None:
            return
        self.selected = None
        self.sendLine(b"* BYE account removed")
        self.transport.loseConnection()

    def _on_change(self, change) -> None:
        if self.selected is None or not self.selected.on_change(change):
            return
        if self.idling and not self._report_scheduled:
            # Batch the changes of one commit into one write.
            self._report_scheduled = True
            asyncio.get_running_loop().call_soon(self._report_idle)

    def _report_idle(self) -> None:
        self._report_scheduled = False
        if self.idling and not self._lost:
            self.report(True)

    def report(self, allow_expunge: bool) -> None:
        """Send the EXPUNGE, EXISTS and FETCH FLAGS responses due (RFC 3501 7.4.1, 7.3.1)."""
        selected = self.selected
        if selected is None or not selected.pending or self._lost:
            return
        updates = selected.take_updates(allow_expunge)
        if b"QRESYNC" in self.enabled:
            # RFC 7162 3.2.10: once QRESYNC is enabled, VANISHED with UIDs takes EXPUNGE's place.
            lines = condstore.vanished(condstore.ranges_of(updates.expunged_uids), earlier=False)
        else:
            lines = [b"* %d EXPUNGE" % n for n in updates.expunged]
        if updates.keywords is not None:
            lines += self.flags_lines(updates.keywords)
        if updates.exists is not None:
            lines.append(b"* %d EXISTS" % updates.exists)
            if b"IMAP4REV2" not in self.enabled:
                # RFC 3501 7.3.2: RECENT comes with the EXISTS that changed it; IMAP4rev2 has none (RFC 9051 E).
                lines.append(b"* %d RECENT" % updates.recent)
        for message in self.account.messages(selected.mailbox_id, updates.flags):
            seq = selected.seq(message.uid)
            if seq:
                flags = fetchlib.flags(message.flags, selected.is_recent(message.uid))
                if b"CONDSTORE" in self.enabled:
                    # RFC 7162 3.1: unsolicited FETCH responses carry MODSEQ once CONDSTORE is enabled.
                    lines.append(b"* %d FETCH (UID %d %s MODSEQ (%d))" % (seq, message.uid, flags, message.modseq))
                else:
                    lines.append(b"* %d FETCH (UID %d %s)" % (seq, message.uid, flags))
        self.write(lines)

    def flags_lines(self, keywords: list[str]) -> list[bytes]:
        """FLAGS and PERMANENTFLAGS of the selected mailbox with its keywords (RFC 3501 7.2.6, 7.1)."""
        flags = fetchlib.flag_list(keywords)
        lines = [b"* FLAGS (" + flags + b")"]
        if not self.selected.readonly:
            lines.append(b"* OK [PERMANENTFLAGS (" + flags + b" \\*)] flags")
        return lines

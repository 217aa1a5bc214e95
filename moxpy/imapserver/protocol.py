"""The IMAP4rev1 session: Twisted's IMAP4Server for the line and literal
handling and command dispatch, with the commands implemented here over
the store.

Twisted's server talks to storage through IAccount/IMailbox one message
at a time and lacks UIDPLUS, MOVE, UNSELECT, ID, SPECIAL-USE, LITERAL+ and
SASL-IR; several of its handlers also mishandle APPEND without flags,
quoted strings with escapes and 8-bit headers. So every command except
CAPABILITY and LOGOUT is answered by this subclass, and FETCH renders all
messages of a command from one index query, writing in large batches with
flow control instead of one deferred per message.

Each command that waits on the store or a password check pauses reading
from the client until it is answered, so pipelined commands (and their
literals) are handled in order.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import re
import time
from functools import partial

from twisted.internet import defer, interfaces
from twisted.mail import imap4
from twisted.mail.imap4 import IllegalClientResponse
from twisted.python import failure
from zope.interface import implementer

from .. import __version__
from .. import auth as authlib
from ..store import Account, MailboxError, MailboxExists, MailboxNotFound, Message, MessageNotFound
from ..store import flags as flaglib
from ..store import mailboxname
from . import fetch as fetchlib
from . import search as searchlib
from . import syntax
from .selected import Selected

log = logging.getLogger("moxpy.imapserver")

WRITE_BATCH = 256 * 1024  # bytes of FETCH responses written at once


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


@implementer(interfaces.IPushProducer)
class _Backpressure:
    """Registered with the transport while FETCH writes, so it can wait for the client to read."""

    def __init__(self):
        self.paused = False
        self._waiter: asyncio.Future | None = None

    async def wait(self) -> None:
        while self.paused:
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def pauseProducing(self):
        self.paused = True

    def resumeProducing(self):
        self.paused = False
        self._wake()

    def stopProducing(self):
        self.paused = False
        self._wake()


def _mailbox(raw: bytes) -> str:
    """A mailbox name argument; a name no mailbox can have is answered with NO, as for a missing one."""
    try:
        return mailboxname.check(syntax.decode_mailbox(raw))
    except (syntax.MailboxNameError, MailboxError) as e:
        raise No(b"[CANNOT] " + syntax.plain_text(str(e))) from None


def _display_name(name: str) -> str:
    # The inbox is INBOX to clients (RFC 3501 5.1), also as the parent of other mailboxes.
    return "INBOX" + name[5:] if name == "Inbox" or name.startswith("Inbox/") else name


class IMAPServer(imap4.IMAP4Server):
    IDENT = b"moxpy IMAP4rev1 ready"
    MAX_LENGTH = 1024 * 1024  # longest command line; UID sets of large mailboxes get long

    def __init__(self, factory):
        super().__init__(contextFactory=factory.tls_options)
        self.factory = factory
        self.account: Account | None = None
        self.account_name = ""
        self.selected: Selected | None = None
        self._unsubscribe = None
        self._idle_tag: bytes | None = None
        self._report_scheduled = False
        self._lost = False
        self.startedTLS = factory.implicit_tls

    # Connection.

    def connectionMade(self):
        self.remote_ip = getattr(self.transport.getPeer(), "host", "")
        self._started = time.monotonic()
        super().connectionMade()

    def connectionLost(self, reason):
        # One line per session; never credentials or message contents.
        log.info("imap session account=%s remote=%s tls=%s duration=%.3fs", self.account_name or "-",
                 self.remote_ip, "yes" if self.startedTLS else "no", time.monotonic() - getattr(self, "_started", 0))
        self._lost = True
        if self._unsubscribe:
            self._unsubscribe()
            self._unsubscribe = None
        super().connectionLost(reason)

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

    def lineLengthExceeded(self, line):
        self.sendLine(b"* BYE command line too long")
        self.transport.loseConnection()

    def listCapabilities(self):
        caps = [b"IMAP4rev1", b"LITERAL+", b"SASL-IR", b"IDLE", b"NAMESPACE", b"ID", b"UIDPLUS", b"MOVE",
                b"UNSELECT", b"ENABLE", b"CHILDREN", b"SPECIAL-USE", b"STATUS=SIZE",
                b"APPENDLIMIT=%d" % self.factory.max_message_size()]
        if self.state == "unauth":
            if self.factory.tls_options is not None and not self.startedTLS:
                caps.append(b"STARTTLS")
            caps.append(b"AUTH=PLAIN" if self._login_allowed() else b"LOGINDISABLED")
        return caps

    def _login_allowed(self) -> bool:
        return self.startedTLS or self.factory.plaintext_login

    # Running commands that wait.

    def _run(self, tag: bytes, coro, allow_expunge: bool = True) -> None:
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
        except Exception:
            log.exception("imap command failed account=%s", self.account_name)
            status, text = b"NO", b"[SERVERBUG] internal error"
        self._report(allow_expunge)
        self._respond(status, tag, text)
        if not self._lost and self.transport is not None and not self.transport.disconnecting:
            self.resumeProducing()

    def _write(self, lines: list[bytes]) -> None:
        if lines:
            self.transport.write(b"".join(line + b"\r\n" for line in lines))

    # Changes made by others.

    def _on_change(self, change) -> None:
        if self.selected is None or not self.selected.on_change(change):
            return
        if self._idle_tag is not None and not self._report_scheduled:
            # Batch the changes of one commit into one write.
            self._report_scheduled = True
            asyncio.get_running_loop().call_soon(self._report_idle)

    def _report_idle(self) -> None:
        self._report_scheduled = False
        if self._idle_tag is not None and not self._lost:
            self._report(True)

    def _report(self, allow_expunge: bool) -> None:
        """Send the EXPUNGE, EXISTS and FETCH FLAGS responses due (RFC 3501 7.4.1, 7.3.1)."""
        selected = self.selected
        if selected is None or not selected.pending or self._lost:
            return
        updates = selected.take_updates(allow_expunge)
        lines = [b"* %d EXPUNGE" % n for n in updates.expunged]
        if updates.keywords is not None:
            lines += self._flags_lines(updates.keywords)
        if updates.exists is not None:
            # RFC 3501 7.3.2: RECENT comes with the EXISTS that changed it.
            lines += [b"* %d EXISTS" % updates.exists, b"* %d RECENT" % updates.recent]
        for message in self.account.messages(selected.mailbox_id, updates.flags):
            seq = selected.seq(message.uid)
            if seq:
                flags = fetchlib.flags(message.flags, selected.is_recent(message.uid))
                lines.append(b"* %d FETCH (UID %d %s)" % (seq, message.uid, flags))
        self._write(lines)

    def _flags_lines(self, keywords: list[str]) -> list[bytes]:
        """FLAGS and PERMANENTFLAGS of the selected mailbox with its keywords (RFC 3501 7.2.6, 7.1)."""
        flags = fetchlib.flag_list(keywords)
        lines = [b"* FLAGS (" + flags + b")"]
        if not self.selected.readonly:
            lines.append(b"* OK [PERMANENTFLAGS (" + flags + b" \\*)] flags")
        return lines

    # Command dispatch: as Twisted's, except that errors are answered in plain words. Twisted's
    # repeats the exception's text, or the rest of the line as a Python repr, to the client.

    def dispatchCommand(self, tag, cmd, rest, uid=None):
        handler = self.lookupCommand(cmd)
        if not handler:
            self.sendBadResponse(tag, b"unknown command, or not allowed in this state")
            return
        self._parse_arguments(tag, handler[0], [self, tag], list(handler[1:]), rest, uid)

    def _parse_arguments(self, tag, handler, args: list, parsers: list, line, uid) -> None:
        """Parse the arguments in turn (waiting for literals), then run the command."""
        try:
            while parsers:
                parser = parsers.pop(0)
                if not callable(parser):
                    args.append(parser)
                    continue
                result = parser(self, line)
                if isinstance(result, defer.Deferred):
                    result.addCallback(self._argument_parsed, tag, handler, args, parsers, uid)
                    result.addErrback(self._command_failed, tag)
                    return
                arg, line = result
                args.append(arg)
            if line:
                raise IllegalClientResponse("too many arguments")
            if uid is not None:
                handler(*args, uid=uid)
            else:
                handler(*args)
        except Exception:
            self._command_failed(failure.Failure(), tag)

    def _argument_parsed(self, result, tag, handler, args, parsers, uid) -> None:
        arg, rest = result
        if rest[:1] == b" ":
            rest = rest[1:]  # the space between a literal and the next argument
        args.append(arg)
        self._parse_arguments(tag, handler, args, parsers, rest, uid)

    def _command_failed(self, reason: failure.Failure, tag) -> None:
        if reason.check(IllegalClientResponse):
            self.sendBadResponse(tag, syntax.plain_text(str(reason.value)))
        elif reason.check(imap4.MismatchedNesting, imap4.MismatchedQuoting):
            self.sendBadResponse(tag, b"unbalanced parentheses or quotes")
        else:
            log.error("imap command failed account=%s", self.account_name, exc_info=reason.value)
            self.sendBadResponse(tag, b"internal error")

    # Argument parsing (fixes and additions to Twisted's).

    arg_finalastring = imap4.IMAP4Server.arg_finalastring  # calls our arg_astring
    arg_atom = imap4.IMAP4Server.arg_atom
    arg_plist = imap4.IMAP4Server.arg_plist
    arg_line = imap4.IMAP4Server.arg_line
    opt_plist = imap4.IMAP4Server.opt_plist
    opt_datetime = imap4.IMAP4Server.opt_datetime

    def arg_astring(self, line, final=False):
        line = line.lstrip(b" ")
        if not line:
            raise IllegalClientResponse("missing argument")
        if line[:1] == b'"':
            try:
                return syntax.read_quoted(line)
            except syntax.CommandSyntaxError as e:
                raise IllegalClientResponse(str(e)) from None
        if line[:1] == b"{":
            m = syntax.LITERAL_AT_END.fullmatch(line)
            if not m:
                raise IllegalClientResponse("malformed literal")
            size = int(m.group(1))
            if final and size == 0:
                return (b"", b"")
            if size > self._literalStringLimit:
                raise IllegalClientResponse(f"string literal too long, at most {self._literalStringLimit} octets")
            return self._literal(size, bool(m.group(2)), file=False)
        arg, _, rest = line.partition(b" ")
        return arg, rest

    def arg_literal(self, line):
        m = syntax.LITERAL_AT_END.fullmatch(line.strip()) if line else None
        if not m:
            raise IllegalClientResponse("literal expected")
        return self._literal(int(m.group(1)), bool(m.group(2)), file=True)

    def _literal(self, size: int, nonsync: bool, file: bool) -> defer.Deferred:
        d = defer.Deferred()
        self.parseState = "pending"
        self._pendingLiteral = (imap4.LiteralFile if file else imap4.LiteralString)(size, d)
        if not nonsync:
            # RFC 7888: a non-synchronizing literal {N+} follows without waiting for this.
            self.sendContinuationRequest(b"ready for literal data")
        self.setRawMode()
        return d

    def arg_seqset(self, line):
        arg, _, rest = line.partition(b" ")
        try:
            return syntax.parse_sequence_set(arg), rest
        except syntax.CommandSyntaxError as e:
            raise IllegalClientResponse(str(e)) from None

    def arg_fetchatt(self, line):
        try:
            return fetchlib.parse_items(line), b""
        except fetchlib.FetchError as e:
            raise IllegalClientResponse(str(e)) from None

    def arg_searchkeys(self, line, tokens=None, stack=None):
        try:
            tokens, pending = syntax.tokenize(line, stack=stack)
        except syntax.CommandSyntaxError as e:
            raise IllegalClientResponse(str(e)) from None
        if pending is None:
            return tokens, b""
        size, nonsync, stack = pending
        if size > self._literalStringLimit:
            raise IllegalClientResponse("search literal too long")

        def got(result):
            data, rest = result
            stack[-1].append(syntax.String(data))
            return self.arg_searchkeys(rest, stack=stack)

        return self._literal(size, nonsync, file=False).addCallback(got)

    def arg_rest(self, line):
        return (line or b""), b""

    def arg_flaglist(self, line):
        flags, rest = super().arg_flaglist(line)
        return [f.decode("ascii", "replace") for f in flags], rest

    # Any state.

    def do_NOOP(self, tag):
        self._report(True)
        self.sendPositiveResponse(tag, b"NOOP completed")

    unauth_NOOP = auth_NOOP = select_NOOP = (do_NOOP,)

    def do_LOGOUT(self, tag):
        self.sendUntaggedResponse(b"BYE logging out")
        self.sendPositiveResponse(tag, b"LOGOUT completed")
        self.transport.loseConnection()

    unauth_LOGOUT = auth_LOGOUT = select_LOGOUT = (do_LOGOUT,)

    def do_ID(self, tag, args):
        # RFC 2971: the client's identification is only of interest in logs.
        self.sendUntaggedResponse(b'ID ("name" "moxpy" "version" ' + syntax.quoted(__version__.encode()) + b")")
        self.sendPositiveResponse(tag, b"ID completed")

    unauth_ID = auth_ID = select_ID = (do_ID, arg_rest)

    # Not authenticated.

    def do_STARTTLS(self, tag):
        if self.startedTLS:
            self.sendBadResponse(tag, b"TLS already active")
            return
        if self.factory.tls_options is None or not self.canStartTLS:
            self.sendNegativeResponse(tag, b"TLS not available")
            return
        self.sendPositiveResponse(tag, b"begin TLS negotiation now")
        # Anything the client sent after STARTTLS in plain text is dropped, not run after the handshake.
        self.clearLineBuffer()
        self.transport.startTLS(self.factory.tls_options)
        self.startedTLS = True

    unauth_STARTTLS = (do_STARTTLS,)

    def do_LOGIN(self, tag, user, password):
        self._run(tag, self._login(user.decode("utf-8", "replace"), password.decode("utf-8", "replace")))

    unauth_LOGIN = (do_LOGIN, arg_astring, arg_finalastring)

    def do_AUTHENTICATE(self, tag, mechanism, initial):
        if mechanism.upper() != b"PLAIN":
            self.sendNegativeResponse(tag, b"[CANNOT] unsupported authentication mechanism")
            return
        if initial:
            self._run(tag, self._plain(initial))
            return
        # RFC 3501 6.2.2: an empty challenge, the response comes on its own line.
        d = defer.Deferred()
        self.parseState = "pending"
        self._pendingLiteral = d
        self.sendLine(b"+ ")
        d.addCallback(lambda line: self._run(tag, self._plain(line)))

    unauth_AUTHENTICATE = (do_AUTHENTICATE, arg_atom, arg_rest)

    async def _plain(self, response: bytes) -> bytes:
        response = response.strip()
        if response == b"*":
            raise Bad(b"authentication cancelled")
        try:
            data = b"" if response == b"=" else base64.b64decode(response, validate=True)
        except (binascii.Error, ValueError):
            raise Bad(b"invalid base64 in authentication response") from None
        # RFC 4616: authzid NUL authcid NUL password.
        fields = data.split(b"\0")
        if len(fields) != 3:
            raise Bad(b"malformed PLAIN authentication response")
        authz, user, password = (f.decode("utf-8", "replace") for f in fields)
        if authz and authz != user:
            raise No(b"[AUTHORIZATIONFAILED] cannot log in as another user")
        return await self._login(user, password)

    async def _login(self, user: str, password: str) -> bytes:
        if not self._login_allowed():
            raise No(b"[PRIVACYREQUIRED] login only after STARTTLS")
        try:
            account_name = await self.factory.authenticator.login(user, password, self.remote_ip)
        except authlib.Throttled:
            raise No(b"[UNAVAILABLE] too many failed logins from your address, try again later") from None
        if account_name is None:
            log.info("imap login failed address=%s ip=%s", user, self.remote_ip)
            raise No(b"[AUTHENTICATIONFAILED] invalid credentials")
        self.account_name = account_name
        self.account = self.factory.store.account(account_name)
        self._unsubscribe = self.account.subscribe(self._on_change)
        self.state = "auth"
        self.setTimeout(self.POSTAUTH_TIMEOUT)
        log.info("imap login account=%s address=%s ip=%s", account_name, user, self.remote_ip)
        return b"[CAPABILITY " + b" ".join(self.listCapabilities()) + b"] logged in"

    # Authenticated: mailboxes.

    def do_ENABLE(self, tag, args):
        # RFC 5161: none of the extensions we offer need enabling; say so.
        self.sendUntaggedResponse(b"ENABLED")
        self.sendPositiveResponse(tag, b"ENABLE completed")

    auth_ENABLE = select_ENABLE = (do_ENABLE, arg_rest)

    def do_NAMESPACE(self, tag):
        self.sendUntaggedResponse(b'NAMESPACE (("" "/")) NIL NIL')
        self.sendPositiveResponse(tag, b"NAMESPACE completed")

    auth_NAMESPACE = select_NAMESPACE = (do_NAMESPACE,)

    def do_SELECT(self, tag, name):
        self._run(tag, self._select(name, False, b"SELECT"))

    def do_EXAMINE(self, tag, name):
        self._run(tag, self._select(name, True, b"EXAMINE"))

    auth_SELECT = select_SELECT = (do_SELECT, arg_finalastring)
    auth_EXAMINE = select_EXAMINE = (do_EXAMINE, arg_finalastring)

    async def _select(self, raw: bytes, readonly: bool, command: bytes) -> bytes:
        # RFC 3501 6.3.1: a SELECT, even a failing one, first closes the current mailbox.
        self._deselect()
        name = _mailbox(raw)
        box = self.account.mailbox(name)
        if box is None:
            raise No(b"[NONEXISTENT] no such mailbox")
        selected = Selected(self.account, box.id, box.name, readonly, self)
        status = self.account.mailbox_status(box.id)
        flags = fetchlib.flag_list(selected.keywords)
        lines = [
            b"* FLAGS (" + flags + b")",
            b"* OK [PERMANENTFLAGS (" + (b"" if readonly else flags + b" \\*") + b")] flags",
            b"* %d EXISTS" % len(selected.uids),
            b"* %d RECENT" % selected.recent_count(),
        ]
        if status.first_unseen:
            seq = selected.seq(status.first_unseen)
            if seq:
                lines.append(b"* OK [UNSEEN %d] first unseen" % seq)
        lines += [b"* OK [UIDVALIDITY %d] UIDs valid" % box.uidvalidity,
                  b"* OK [UIDNEXT %d] next UID" % box.uidnext]
        self._write(lines)
        self.selected = selected
        self.state = "select"
        return b"[READ-ONLY] " + command + b" completed" if readonly else b"[READ-WRITE] " + command + b" completed"

    def _deselect(self) -> None:
        self.selected = None
        if self.state == "select":
            self.state = "auth"

    def do_CREATE(self, tag, name):
        self._run(tag, self._create(name))

    auth_CREATE = select_CREATE = (do_CREATE, arg_finalastring)

    async def _create(self, raw: bytes) -> bytes:
        # RFC 3501 6.3.3: a trailing separator only says that children are intended.
        name = _mailbox(raw.rstrip(b"/") or raw)
        try:
            await self.account.create_mailbox(name)
        except MailboxExists:
            raise No(b"[ALREADYEXISTS] mailbox already exists") from None
        return b"CREATE completed"

    def do_DELETE(self, tag, name):
        self._run(tag, self._delete(name))

    auth_DELETE = select_DELETE = (do_DELETE, arg_finalastring)

    async def _delete(self, raw: bytes) -> bytes:
        try:
            await self.account.delete_mailbox(_mailbox(raw))
        except MailboxNotFound:
            raise No(b"[NONEXISTENT] no such mailbox") from None
        except MailboxError as e:
            raise No(b"[CANNOT] " + syntax.plain_text(str(e))) from None
        return b"DELETE completed"

    def do_RENAME(self, tag, old, new):
        self._run(tag, self._rename(old, new))

    auth_RENAME = select_RENAME = (do_RENAME, arg_astring, arg_finalastring)

    async def _rename(self, old: bytes, new: bytes) -> bytes:
        try:
            await self.account.rename_mailbox(_mailbox(old), _mailbox(new))
        except MailboxNotFound:
            raise No(b"[NONEXISTENT] no such mailbox") from None
        except MailboxExists:
            raise No(b"[ALREADYEXISTS] destination mailbox already exists") from None
        except MailboxError as e:
            raise No(b"[CANNOT] " + syntax.plain_text(str(e))) from None
        return b"RENAME completed"

    def do_SUBSCRIBE(self, tag, name):
        self._run(tag, self._subscribe(name, True))

    def do_UNSUBSCRIBE(self, tag, name):
        self._run(tag, self._subscribe(name, False))

    auth_SUBSCRIBE = select_SUBSCRIBE = (do_SUBSCRIBE, arg_finalastring)
    auth_UNSUBSCRIBE = select_UNSUBSCRIBE = (do_UNSUBSCRIBE, arg_finalastring)

    async def _subscribe(self, raw: bytes, on: bool) -> bytes:
        try:
            await self.account.set_subscribed(_mailbox(raw), on)
        except MailboxNotFound:
            raise No(b"[NONEXISTENT] no such mailbox") from None
        return b"SUBSCRIBE completed" if on else b"UNSUBSCRIBE completed"

    def do_LIST(self, tag, ref, pattern):
        self._run(tag, self._list(ref, pattern, False))

    def do_LSUB(self, tag, ref, pattern):
        self._run(tag, self._list(ref, pattern, True))

    auth_LIST = select_LIST = (do_LIST, arg_astring, arg_finalastring)
    auth_LSUB = select_LSUB = (do_LSUB, arg_astring, arg_finalastring)

    async def _list(self, ref: bytes, pattern: bytes, lsub: bool) -> bytes:
        command = b"LSUB" if lsub else b"LIST"
        try:
            ref_name, pattern_name = syntax.decode_mailbox(ref), syntax.decode_mailbox(pattern)
        except syntax.MailboxNameError:
            return command + b" completed"  # no mailbox has such a name
        if not pattern_name and not lsub:
            # RFC 3501 6.3.8: an empty pattern asks for the hierarchy delimiter.
            self._write([b'* LIST (\\Noselect) "/" ""'])
            return b"LIST completed"
        matcher = _pattern(ref_name + pattern_name)
        boxes = self.account.mailboxes()
        names = {box.name for box in boxes}
        lines = []
        for box in boxes:
            name = box.name
            if lsub and not box.subscribed:
                continue
            if not matcher(_display_name(name)):
                continue
            has_children = any(other.startswith(name + "/") for other in names)
            attrs = [b"\\HasChildren" if has_children else b"\\HasNoChildren"]
            if box.special_use and not lsub:
                attrs.append(box.special_use.encode())
            lines.append(command + b" (" + b" ".join(attrs) + b') "/" ' + syntax.encode_mailbox(_display_name(name)))
        self._write([b"* " + line for line in lines])
        return command + b" completed"

    def do_STATUS(self, tag, name, items):
        self._run(tag, self._status(name, items))

    auth_STATUS = select_STATUS = (do_STATUS, arg_astring, arg_plist)

    async def _status(self, raw: bytes, items: list) -> bytes:
        name = _mailbox(raw)
        box = self.account.mailbox(name)
        if box is None:
            raise No(b"[NONEXISTENT] no such mailbox")
        counts = self.account.mailbox_status(box.id)
        values = {b"MESSAGES": counts.messages, b"RECENT": counts.recent, b"UIDNEXT": box.uidnext,
                  b"UIDVALIDITY": box.uidvalidity, b"UNSEEN": counts.unseen, b"SIZE": counts.size,
                  b"DELETED": counts.deleted}
        out = []
        for item in items:
            if isinstance(item, list) or bytes(item).upper() not in values:
                raise Bad(b"unknown STATUS item")
            key = bytes(item).upper()
            out.append(key + b" %d" % values[key])
        self._write([b"* STATUS " + syntax.encode_mailbox(_display_name(box.name)) + b" (" + b" ".join(out) + b")"])
        return b"STATUS completed"

    def do_APPEND(self, tag, name, flags, date, message):
        data = message.read()
        message.close()
        self._run(tag, self._append(name, flags or [], date, data))

    auth_APPEND = select_APPEND = (do_APPEND, arg_astring, opt_plist, opt_datetime, arg_literal)

    async def _append(self, raw: bytes, flags: list, date: bytes | None, data: bytes) -> bytes:
        name = _mailbox(raw)
        if len(data) > self.factory.max_message_size():
            raise No(b"[TOOBIG] message too large")
        words = [bytes(f).decode("utf-8", "replace") for f in flags if not isinstance(f, list)]
        words = [w for w in words if w.lower() != "\\recent"]  # RFC 3501 2.3.2: clients cannot set \Recent
        try:
            flaglib.parse(words)  # a bad flag is BAD, before a missing mailbox is NO
        except flaglib.FlagError as e:
            raise Bad(syntax.plain_text(str(e))) from None
        received = syntax.parse_date_time(date) if date else None
        box = self.account.mailbox(name)
        if box is None:
            raise No(b"[TRYCREATE] no such mailbox")
        message = await self.account.deliver(data, box.name, flags=words, received=received)
        return b"[APPENDUID %d %d] APPEND completed" % (box.uidvalidity, message.uid)

    def do_IDLE(self, tag):
        # RFC 2177: changes are reported as they happen until the client sends DONE.
        self._idle_tag = tag
        self.sendLine(b"+ idling")
        self.parseState = "idle"
        self._report(True)

    auth_IDLE = select_IDLE = (do_IDLE,)

    def parse_idle(self, line):
        tag, self._idle_tag = self._idle_tag, None
        self.parseState = "command"
        if line.strip().upper() == b"DONE":
            self.sendPositiveResponse(tag, b"IDLE done")
        else:
            self.sendBadResponse(tag, b"expected DONE")

    # Selected.

    def do_CHECK(self, tag):
        self._report(True)
        self.sendPositiveResponse(tag, b"CHECK completed")

    select_CHECK = (do_CHECK,)

    def do_CLOSE(self, tag):
        self._run(tag, self._close(expunge=True))

    def do_UNSELECT(self, tag):
        self._run(tag, self._close(expunge=False))

    select_CLOSE = (do_CLOSE,)
    select_UNSELECT = (do_UNSELECT,)

    async def _close(self, expunge: bool) -> bytes:
        selected = self.selected
        self._deselect()
        # RFC 3501 6.4.2: CLOSE removes \Deleted messages without EXPUNGE responses.
        if expunge and not selected.readonly:
            await self.account.expunge(selected.mailbox_id)
        return b"CLOSE completed" if expunge else b"UNSELECT completed"

    def do_EXPUNGE(self, tag, uid=0):
        self._run(tag, self._expunge(None))

    def do_UID_EXPUNGE(self, tag, ranges, uid=1):
        self._run(tag, self._expunge(ranges))

    select_EXPUNGE = (do_EXPUNGE,)

    async def _expunge(self, ranges) -> bytes:
        selected = self.selected
        if selected.readonly:
            raise No(b"[READ-ONLY] mailbox is read-only")
        uids = None if ranges is None else selected.resolve(ranges, True)
        if uids is None or uids:
            await self.account.expunge(selected.mailbox_id, uids)
        return b"EXPUNGE completed"

    def do_UID(self, tag, command, line):
        command = command.upper()
        if command == b"EXPUNGE":
            ranges, rest = self.arg_seqset(line)
            if rest:
                raise IllegalClientResponse("too many arguments")
            self.do_UID_EXPUNGE(tag, ranges)
            return
        if command not in (b"COPY", b"MOVE", b"FETCH", b"STORE", b"SEARCH"):
            raise IllegalClientResponse("unknown UID command")
        self.dispatchCommand(tag, command, line, uid=1)

    select_UID = (do_UID, arg_atom, arg_line)

    def _resolve(self, ranges, uid) -> list[int]:
        try:
            return self.selected.resolve(ranges, bool(uid))
        except IndexError:
            raise Bad(b"message sequence number beyond the last message") from None

    def do_SEARCH(self, tag, tokens, uid=0):
        self._run(tag, self._search(tokens, uid), allow_expunge=bool(uid))

    select_SEARCH = (do_SEARCH, arg_searchkeys)

    async def _search(self, tokens: list, uid: int) -> bytes:
        selected = self.selected
        try:
            criteria = searchlib.parse(tokens, selected)
        except searchlib.BadCharset:
            raise No(b"[BADCHARSET (US-ASCII UTF-8)] unsupported charset") from None
        uids = self.account.search(selected.mailbox_id, criteria)
        if uid:
            found = [b"%d" % u for u in uids if selected.seq(u)]
        else:
            found = [b"%d" % s for s in map(selected.seq, uids) if s]
        self._write([b" ".join([b"* SEARCH"] + found)])
        return b"SEARCH completed"

    def do_FETCH(self, tag, ranges, items, uid=0):
        self._run(tag, self._fetch(ranges, items, uid), allow_expunge=bool(uid))

    select_FETCH = (do_FETCH, arg_seqset, arg_fetchatt)

    async def _fetch(self, ranges, items: list, uid: int) -> bytes:
        selected = self.selected
        account = self.account
        uids = self._resolve(ranges, uid)
        if uid and "UID" not in items:
            items = ["UID"] + items
        sections = [i for i in items if isinstance(i, fetchlib.Section)]
        need_parts = any(i in ("ENVELOPE", "BODYSTRUCTURE", "BODY") for i in items) or any(
            s.path or s.spec for s in sections)
        messages = account.messages(selected.mailbox_id, uids, parts=need_parts)
        # RFC 3501 6.4.5: fetching a body section without PEEK sets \Seen, and the new flags are reported.
        seen_now: dict[int, list[str]] = {}
        if not selected.readonly and any(s.sets_seen for s in sections):
            unseen = [m.id for m in messages if "\\Seen" not in m.flags]
            if unseen:
                changed = await self._change_flags(unseen, "add", ["\\Seen"])
                seen_now = {m.uid: m.flags for m in changed}
        add_flags = bool(seen_now) and "FLAGS" not in items
        backpressure = _Backpressure()
        self.transport.registerProducer(backpressure, True)
        try:
            out: list[bytes] = []
            size = 0
            seq_of = selected.seq
            for message in messages:
                msg_uid = message.uid
                seq = seq_of(msg_uid)
                if not seq:
                    continue
                flags = seen_now.get(msg_uid) or message.flags
                root = account.message_parts(message) if need_parts else None
                data = None
                fields = []
                for item in items:
                    if item == "UID":
                        fields.append(b"UID %d" % msg_uid)
                    elif item == "FLAGS":
                        fields.append(fetchlib.flags(flags, selected.is_recent(msg_uid)))
                    elif item == "RFC822.SIZE":
                        fields.append(b"RFC822.SIZE %d" % message.size)
                    elif item == "INTERNALDATE":
                        fields.append(b"INTERNALDATE " + syntax.format_date_time(message.received))
                    elif item == "ENVELOPE":
                        fields.append(b"ENVELOPE " + fetchlib.envelope(root.envelope))
                    elif item == "BODYSTRUCTURE":
                        fields.append(b"BODYSTRUCTURE " + fetchlib.bodystructure(root, True))
                    elif item == "BODY":
                        fields.append(b"BODY " + fetchlib.bodystructure(root, False))
                    else:
                        if data is None:
                            try:
                                data = account.message_bytes(message)
                            except OSError:
                                break  # expunged meanwhile by another session
                        fields.append(fetchlib.section_response(data, root, item))
                else:
                    if add_flags and msg_uid in seen_now:
                        fields.append(fetchlib.flags(flags, selected.is_recent(msg_uid)))
                    line = b"* %d FETCH (%s)\r\n" % (seq, b" ".join(fields))
                    out.append(line)
                    size += len(line)
                    if size >= WRITE_BATCH:
                        self.transport.write(b"".join(out))
                        out, size = [], 0
                        await asyncio.sleep(0)  # let other sessions run
                        await backpressure.wait()
                        if self._lost:
                            return b"FETCH aborted"
            if out:
                self.transport.write(b"".join(out))
        finally:
            if not self._lost:
                self.transport.unregisterProducer()
        return b"FETCH completed"

    def do_STORE(self, tag, ranges, mode, flags, uid=0):
        self._run(tag, self._store(ranges, mode, flags, uid), allow_expunge=bool(uid))

    select_STORE = (do_STORE, arg_seqset, arg_atom, arg_flaglist)

    async def _store(self, ranges, mode: bytes, flags: list[str], uid: int) -> bytes:
        selected = self.selected
        mode = mode.upper()
        silent = mode.endswith(b".SILENT")
        operation = {b"FLAGS": "set", b"+FLAGS": "add", b"-FLAGS": "remove"}.get(mode.removesuffix(b".SILENT"))
        if operation is None:
            raise Bad(b"expected FLAGS, +FLAGS or -FLAGS")
        if selected.readonly:
            raise No(b"[READ-ONLY] mailbox is read-only")
        uids = self._resolve(ranges, uid)
        ids = [m.id for m in self.account.messages(selected.mailbox_id, uids)]
        try:
            await self._change_flags(ids, operation, [f for f in flags if f.lower() != "\\recent"])
        except flaglib.FlagError as e:
            raise Bad(syntax.plain_text(str(e))) from None
        # A new keyword is announced (RFC 3501 7.2.6) before the FETCH responses that show it.
        keywords = selected.take_keywords()
        if keywords is not None:
            self._write(self._flags_lines(keywords))
        if not silent:
            lines = []
            for message in self.account.messages(selected.mailbox_id, uids):
                seq = selected.seq(message.uid)
                flags_item = fetchlib.flags(message.flags, selected.is_recent(message.uid))
                if uid:
                    lines.append(b"* %d FETCH (UID %d %s)" % (seq, message.uid, flags_item))
                else:
                    lines.append(b"* %d FETCH (%s)" % (seq, flags_item))
            self._write(lines)
        return b"STORE completed"

    async def _change_flags(self, msg_ids: list[int], mode: str, flags: list[str]) -> list[Message]:
        """Change flags of messages of the selected mailbox; those expunged meanwhile are left alone."""
        try:
            return await self.account.change_flags(msg_ids, mode, flags, mailbox_id=self.selected.mailbox_id,
                                                   origin=self)
        except MessageNotFound:
            return []

    def do_COPY(self, tag, ranges, mailbox, uid=0):
        self._run(tag, self._copy(ranges, mailbox, uid, move=False), allow_expunge=bool(uid))

    def do_MOVE(self, tag, ranges, mailbox, uid=0):
        self._run(tag, self._copy(ranges, mailbox, uid, move=True))

    select_COPY = (do_COPY, arg_seqset, arg_finalastring)
    select_MOVE = (do_MOVE, arg_seqset, arg_finalastring)

    async def _copy(self, ranges, raw: bytes, uid: int, move: bool) -> bytes:
        selected = self.selected
        uids = self._resolve(ranges, uid)
        name = _mailbox(raw)
        if self.account.mailbox(name) is None:
            raise No(b"[TRYCREATE] no such mailbox")
        command = b"MOVE" if move else b"COPY"
        if not uids:
            return command + b" completed, no messages"
        if move and selected.readonly:
            raise No(b"[READ-ONLY] mailbox is read-only")
        ids = [m.id for m in self.account.messages(selected.mailbox_id, uids)]
        try:
            if move:
                copied = await self.account.move(ids, name, mailbox_id=selected.mailbox_id)
            else:
                copied = await self.account.copy(ids, name, mailbox_id=selected.mailbox_id)
            uidvalidity, pairs = copied.uidvalidity, copied.pairs
        except MessageNotFound:
            pairs = []
        except MailboxNotFound:
            raise No(b"[TRYCREATE] no such mailbox") from None
        except MailboxError as e:
            raise No(b"[CANNOT] " + syntax.plain_text(str(e))) from None
        if not pairs:
            # RFC 5530 EXPUNGEISSUED: another session expunged them after this one last heard of it.
            raise No(b"[EXPUNGEISSUED] the messages were expunged meanwhile, nothing " +
                     (b"moved" if move else b"copied"))
        gone = b"" if len(pairs) == len(uids) else b", leaving out messages expunged meanwhile"
        code = b"[COPYUID %d %s %s]" % (uidvalidity, syntax.format_uid_set([a for a, _ in pairs]),
                                         syntax.format_uid_set([b for _, b in pairs]))
        if move:
            # RFC 6851 4.3: COPYUID comes in an untagged OK before the EXPUNGE responses.
            self._write([b"* OK " + code + b" moved"])
            return b"MOVE completed" + gone
        return code + b" COPY completed" + gone


def _pattern(pattern: str):
    """A LIST pattern matcher: * matches anything, % anything but the delimiter (RFC 3501 6.3.8)."""
    first, sep, rest = pattern.partition("/")
    if first.lower() == "inbox":
        pattern = "INBOX" + sep + rest  # INBOX is case-insensitive, also as a parent
    regex = "".join(".*" if c == "*" else "[^/]*" if c == "%" else re.escape(c) for c in pattern)
    return re.compile(regex + r"\Z", re.DOTALL).match

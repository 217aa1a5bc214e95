"""The submission role (RFC 6409): authenticated mail from an account, into
the delivery queue.

A client logs in with AUTH SCRAM-SHA-256, PLAIN or LOGIN (RFC 4954;
outside localserve only once TLS is on). Password verification runs off the event loop in the
Authenticator, which also throttles failed logins per address and network. The account may
only use addresses that deliver to it, in MAIL FROM and in the From
header. At the end of DATA the message gets a Message-Id and a Date when
it lacks them, is DKIM-signed for the From domain, and becomes one queue
entry per recipient, stored durably before 250. The sender check, limits,
signing and queueing are moxpy.submit's, shared with the webapi's Send;
this handler turns their errors into SMTP replies.

X-Mox-Extra-<Key> header fields become the entries' Extra, which travels
into every webhook about them, as in mox. With FromID tracking on for the
login address, each recipient gets its own MAIL FROM localpart+ID@domain;
a client may choose the ID itself by sending from such an address, for a
single recipient.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import logging
from dataclasses import dataclass

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

from .. import config as configlib
from .. import auth as authlib
from .. import submit as submitlib
from ..message import compose as composelib
from ..message import headers as headerlib
from ..message import parse as msgparse
from ..message.address import AddressError, parse_address
from ..queue import Queue
from ..smtp import path as smtppath
from ..smtp.codes import Enhanced, Reply, reply
from ..store import storage_full
from . import Handler, localserve, replies
from .delivery import MAX_RECIPIENTS, bare_line_ending, peer_ip, received_header

log = logging.getLogger("moxpy.smtpserver")

EXTRA_PREFIX = "x-mox-extra-"


@dataclass
class Login:
    """Who logged in on a submission connection."""

    account: str
    address: str


def canonical_header_key(name: str) -> str:
    """Header name in the canonical form mox's Extra keys use: each dash-separated
    word capitalised ("X-Mox-Extra-user-id" gives "User-Id")."""
    return "-".join(word[:1].upper() + word[1:].lower() for word in name.split("-"))


def extra_from_headers(msg) -> dict[str, str]:
    """Extra key/values from X-Mox-Extra-<Key> fields; ValueError for a key given twice."""
    extra: dict[str, str] = {}
    for name in msg.keys():
        if not name.lower().startswith(EXTRA_PREFIX) or len(name) == len(EXTRA_PREFIX):
            continue
        key = canonical_header_key(name[len(EXTRA_PREFIX):])
        values = msg.get_all(name) or []
        if key in extra or len(values) > 1:
            raise ValueError(f"duplicate X-Mox-Extra- key {key!r}")
        extra[key] = str(values[-1]).strip()
    return extra


def has_body(data: bytes) -> bool:
    """RFC 6409 8.1 (via RFC 5322 3.5): a header section and a body, separated by an empty line."""
    header, body_start = headerlib.split(data)
    return body_start > len(header)  # past an empty line, not just the end of an all-header message


class SubmissionHandler(Handler):
    role = "submission"  # named in session log lines
    def __init__(self, config: configlib.Source, queue: Queue, authenticator: authlib.Authenticator, hostname: str):
        self.config = config
        self.submitter = submitlib.Submitter(config, queue)
        self.authenticator = authenticator
        self.hostname = hostname

    # Authentication. Methods named auth_MECHANISM are offered in EHLO by aiosmtpd
    # and replace its own, which would verify passwords on the event loop.

    async def auth_PLAIN(self, server: SMTP, args: list[str]) -> AuthResult:
        # RFC 4616 2: authzid NUL authcid NUL passwd.
        if len(args) == 1:
            response = await server.challenge_auth("")
            if not isinstance(response, bytes):
                return AuthResult(success=False)  # client cancelled; aiosmtpd replied
        else:
            response = _b64decode(args[1])
            if response is None:
                return AuthResult(success=False, handled=False, message=replies.invalid_base64("AUTH PLAIN"))
        parts = response.split(b"\0")
        if len(parts) != 3:
            return AuthResult(success=False, handled=False, message=reply(
                Reply.PARAMETER_SYNTAX_ERROR, Enhanced.SYNTAX_ERROR, "malformed AUTH PLAIN response"))
        authzid, username, password = parts
        # Acting on behalf of another identity is not supported.
        if authzid and authzid != username:
            return AuthResult(success=False, handled=False, message=replies.FOREIGN_AUTHZID)
        return await self._login(server, username, password)

    async def auth_LOGIN(self, server: SMTP, args: list[str]) -> AuthResult:
        # The obsolete but widely used LOGIN mechanism: username and password, each base64.
        if len(args) == 1:
            username = await server.challenge_auth("Username:")
            if not isinstance(username, bytes):
                return AuthResult(success=False)
        else:
            username = _b64decode(args[1])
            if username is None:
                return AuthResult(success=False, handled=False, message=replies.invalid_base64("AUTH LOGIN"))
        password = await server.challenge_auth("Password:")
        if not isinstance(password, bytes):
            return AuthResult(success=False)
        return await self._login(server, username, password)

    async def auth_SCRAM__SHA__256(self, server: SMTP, args: list[str]) -> AuthResult:
        # RFC 5802 and RFC 7677: the password never crosses the wire and the client
        # verifies us too. Only a cheap HMAC is done here; the key stretching was
        # done when the verifier was made. (aiosmtpd turns "__" into "-" in the name.)
        from .. import scram  # loaded at the first SCRAM login, not by every server

        ip = peer_ip(server.session)
        if self.authenticator.throttled(ip):
            return AuthResult(success=False, handled=False, message=replies.LOGINS_THROTTLED)
        if len(args) == 1:
            client_first = await server.challenge_auth("")
            if not isinstance(client_first, bytes):
                return AuthResult(success=False)
        else:
            client_first = _b64decode(args[1])
            if client_first is None:
                return AuthResult(success=False, handled=False, message=replies.invalid_base64("AUTH"))
        login: dict[str, str] = {}

        def verifier(username: str):
            found = self.authenticator.scram_verifier(username)
            if found is None:
                # An unknown user fails at the proof, like a wrong password, so
                # the exchange does not reveal which addresses exist.
                return scram.unknown_user_verifier()
            login["account"], login["address"] = found[0], username
            return found[1]

        exchange = scram.ScramLogin(verifier)
        try:
            server_first = exchange.server_first(client_first.decode("utf-8"))
            # RFC 5802 5.1: acting for another identity is not supported; the
            # login itself is (gsasl clients send it by default).
            if exchange.authzid and exchange.authzid != exchange.username:
                log.info("submission scram login with foreign authzid remote=%s", ip)
                return AuthResult(success=False, handled=False, message=replies.FOREIGN_AUTHZID)
            client_final = await server.challenge_auth(server_first)
            if not isinstance(client_final, bytes):
                return AuthResult(success=False)
            server_final = exchange.server_final(client_final.decode("utf-8"))
        except (scram.ScramException, UnicodeDecodeError) as e:
            log.info("submission scram login failed remote=%s: %s", ip, e)
            self.authenticator.failed(ip)
            return AuthResult(success=False, handled=False)
        # RFC 4954 4: SMTP has no room for data with 235, so the server-final
        # message goes in one more challenge, which the client answers empty.
        if not isinstance(await server.challenge_auth(server_final), bytes):
            return AuthResult(success=False)
        log.info("submission login account=%s address=%s remote=%s mechanism=scram-sha-256", login["account"],
                 login["address"], ip)
        self.authenticator.succeeded(ip)
        return AuthResult(success=True, auth_data=Login(login["account"], login["address"]))

    async def _login(self, server: SMTP, username: bytes, password: bytes) -> AuthResult:
        session = server.session
        ip = peer_ip(session)
        try:
            address, secret = username.decode("utf-8"), password.decode("utf-8")
        except UnicodeDecodeError:
            return AuthResult(success=False, handled=False)
        try:
            account = await self.authenticator.login(address, secret, ip)
        except authlib.Throttled:
            log.info("submission login throttled remote=%s", ip)
            return AuthResult(success=False, handled=False, message=replies.LOGINS_THROTTLED)
        if account is None:
            log.info("submission login failed address=%s remote=%s", address, ip)
            return AuthResult(success=False, handled=False)
        log.info("submission login account=%s address=%s remote=%s", account, address, ip)
        return AuthResult(success=True, auth_data=Login(account, address.strip()))

    # The transaction.

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          mail_options: list[str]) -> str:
        login: Login = session.auth_data
        if smtppath.needs_smtputf8(address) and not envelope.smtp_utf8:
            return replies.NEEDS_SMTPUTF8
        # RFC 6409 6.1: the submission server may insist on the sender's identity.
        if not smtppath.is_null(address):
            try:
                self.submitter.check_sender(login.account, address)
            except submitlib.SenderNotAllowed as e:
                log.info("submission with foreign mail from account=%s mailfrom=%s", login.account, address)
                return reply(Reply.MAILBOX_UNAVAILABLE, Enhanced.DELIVERY_NOT_AUTHORIZED, str(e))
        if failure := await self.simulated_failure(server, "MAIL", address):
            return failure
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return replies.SENDER_OK

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return replies.too_many_recipients(MAX_RECIPIENTS)
        if smtppath.needs_smtputf8(address) and not envelope.smtp_utf8:
            return replies.NEEDS_SMTPUTF8
        try:
            parse_address(address)
        except AddressError as e:
            return reply(Reply.PARAMETER_SYNTAX_ERROR, Enhanced.BAD_DESTINATION_SYNTAX,
                         f"invalid recipient address: {e}")
        if failure := await self.simulated_failure(server, "RCPT", address):
            return failure
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return replies.RECIPIENT_OK

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        login: Login = session.auth_data
        config = self.config.current()
        data = envelope.original_content or b""
        if bare_line_ending(data):
            return replies.BARE_LINE_ENDING
        if not has_body(data):
            return reply(Reply.TRANSACTION_FAILED, Enhanced.CONTENT_OTHER,
                         "message needs a header section and a body, separated by an empty line")
        msg = msgparse.parse_headers(data)
        froms = msgparse.addresses(msg, "From")
        if len(froms) != 1:
            return reply(Reply.MAILBOX_UNAVAILABLE, Enhanced.CONTENT_OTHER,
                         "message needs exactly one address in its From header")
        from_address = froms[0][1]
        try:
            self.submitter.check_sender(login.account, from_address)
        except submitlib.SenderNotAllowed as e:
            log.info("submission with foreign from account=%s from=%s", login.account, from_address)
            return reply(Reply.MAILBOX_UNAVAILABLE, Enhanced.DELIVERY_NOT_AUTHORIZED, f"{e} (From header)")
        if config.Localserve:
            for rcpt in envelope.rcpt_tos:
                failure = localserve.submission_error(rcpt)
                if failure:
                    return await self.simulate(server, failure)
        try:
            extra = extra_from_headers(msg)
        except ValueError as e:
            return reply(Reply.TRANSACTION_FAILED, Enhanced.CONTENT_OTHER, str(e))
        try:
            self.submitter.check_limits(login.account, list(envelope.rcpt_tos))
        except submitlib.LimitReached as e:
            what = "messages" if e.kind == "messages" else "new recipients"
            # RFC 3463 5.7.1: delivery not authorized; temporary, the window moves on.
            return reply(Reply.LOCAL_ERROR, Enhanced.DELIVERY_NOT_AUTHORIZED,
                         f"max number of {what} ({e.maximum}) over the past 24h reached, see {e.setting}")

        # RFC 6409 8.2 and 8.3: a submission server may add Date and Message-Id.
        added = b""
        message_id = msgparse.header_str(msg, "Message-ID")
        if not message_id:
            message_id = composelib.new_message_id(config.Hostname)
            added += f"Message-Id: {message_id}\r\n".encode()
        if msg.get("Date") is None:
            added += f"Date: {email.utils.format_datetime(email.utils.localtime())}\r\n".encode()
        try:
            signed = await self.submitter.sign(added + data, from_address.rpartition("@")[2])
        except submitlib.SigningFailed:
            # Unsigned mail may still arrive; failing every submission for a key problem would not help.
            log.exception("dkim signing for %s", from_address)
            signed = added + data

        mail_from = "" if smtppath.is_null(envelope.mail_from) else envelope.mail_from
        single = envelope.rcpt_tos[0] if len(envelope.rcpt_tos) == 1 else None
        prefix = received_header(session, envelope, self.hostname, single, authenticated=True, hide_client=True)
        smtputf8 = envelope.smtp_utf8 or not mail_from.isascii() or any(not r.isascii() for r in envelope.rcpt_tos) \
            or not headerlib.split(data)[0].isascii()
        tls_required = msgparse.header_str(msg, "TLS-Required").lower()
        queued_data = prefix + signed
        try:
            queued = await self.submitter.enqueue(
                account=login.account, login=login.address, mail_from=mail_from, recipients=list(envelope.rcpt_tos),
                data=queued_data, message_id=message_id, subject=msgparse.header_str(msg, "Subject"),
                smtputf8=smtputf8,
                # RFC 8689 5: "TLS-Required: No" asks to deliver even without verified TLS.
                require_tls=False if tls_required == "no" else None,
                extra=extra, own_from_id=True)
        except submitlib.FromIDNotAllowed as e:
            return reply(Reply.TRANSACTION_FAILED, Enhanced.TOO_MANY_RECIPIENTS, str(e))
        except Exception as e:
            if storage_full(e):
                log.warning("queueing submitted message: storage full: %s", e)
                return replies.STORAGE_FULL
            log.exception("queueing submitted message")
            return replies.try_again_later("error queueing message")
        ids = ",".join(str(q.queue_id) for q in queued)
        log.info("submitted account=%s from=%s mailfrom=%s recipients=%d queue=%s size=%d", login.account,
                 from_address, mail_from, len(queued), ids, len(queued_data))
        return reply(Reply.COMPLETED, Enhanced.OTHER, f"message queued as {ids}")


def _b64decode(text: str) -> bytes | None:
    if text == "=":
        return b""  # RFC 4954 4: an empty initial response
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None

"""Commands of any state and of the not authenticated state (RFC 3501
6.1, 6.2): CAPABILITY, NOOP, LOGOUT, STARTTLS, LOGIN, AUTHENTICATE
(PLAIN, RFC 4616, and SCRAM-SHA-256, RFC 5802 and RFC 7677, both with
the initial response of RFC 4959), and ID (RFC 2971) and ENABLE
(RFC 5161).

Passwords are checked by auth.Authenticator (in a thread, with a
throttle per address, which failed SCRAM exchanges count towards too); a
session logs in to one account.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable

from .. import __version__
from .. import auth as authlib
from . import arguments, condstore, syntax
from .session import ANY, AUTHENTICATED, NOT_AUTHENTICATED, Bad, Command, No, Session

log = logging.getLogger("moxpy.imapserver")


def capability(session: Session, tag: bytes) -> None:
    # RFC 3501 6.1.1
    session.sendUntaggedResponse(b"CAPABILITY " + b" ".join(session.listCapabilities()))
    session.sendPositiveResponse(tag, b"CAPABILITY completed")


def noop(session: Session, tag: bytes) -> None:
    # RFC 3501 6.1.2: a chance to send the untagged responses due.
    session.report(True)
    session.sendPositiveResponse(tag, b"NOOP completed")


def logout(session: Session, tag: bytes) -> None:
    # RFC 3501 6.1.3: BYE before the tagged OK.
    session.sendUntaggedResponse(b"BYE logging out")
    session.sendPositiveResponse(tag, b"LOGOUT completed")
    session.transport.loseConnection()


def starttls(session: Session, tag: bytes) -> None:
    # RFC 3501 6.2.1
    if session.startedTLS:
        session.sendBadResponse(tag, b"TLS already active")
        return
    if session.factory.tls_options is None or not session.canStartTLS:
        session.sendNegativeResponse(tag, b"TLS not available")
        return
    session.sendPositiveResponse(tag, b"begin TLS negotiation now")
    # Anything the client sent after STARTTLS in plain text is dropped, not run after the handshake.
    session.clearLineBuffer()
    session.transport.startTLS(session.factory.tls_options)
    session.startedTLS = True


async def login(session: Session, user: bytes, password: bytes) -> bytes:
    # RFC 3501 6.2.3
    return await _login(session, user.decode("utf-8", "replace"), password.decode("utf-8", "replace"))


def authenticate(session: Session, tag: bytes, mechanism: bytes, initial: bytes) -> None:
    # RFC 3501 6.2.2; RFC 4959: the first response may come on the command line.
    mechanism = mechanism.upper()
    if mechanism == b"SCRAM-SHA-256" and session.scram_offered():
        _scram_start(session, tag, initial)
        return
    if mechanism == b"SCRAM-SHA-256" and not session.login_allowed():
        session.sendNegativeResponse(tag, b"[PRIVACYREQUIRED] login only after STARTTLS")
        return
    if mechanism != b"PLAIN":
        session.sendNegativeResponse(tag, b"[CANNOT] unsupported authentication mechanism")
        return
    if initial:
        session.run(tag, _plain(session, initial))
        return
    # An empty challenge; the response comes on its own line.
    session.sendLine(b"+ ")
    session.read_line(lambda line: session.run(tag, _plain(session, line)))


def _sasl_response(line: bytes) -> bytes | None:
    """A client's SASL response line as bytes; None when it cancelled ("*", RFC 3501 6.2.2)."""
    line = line.strip()
    if line == b"*":
        return None
    if line == b"=":
        return b""  # RFC 4959: an empty initial response
    try:
        return base64.b64decode(line, validate=True)
    except (binascii.Error, ValueError):
        raise syntax.CommandSyntaxError("invalid base64 in authentication response") from None


def _scram_start(session: Session, tag: bytes, initial: bytes) -> None:
    # RFC 5802 5 and RFC 7677: client-first, server-first, client-final, server-final. Only a cheap HMAC is
    # done here (the key stretching was done when the verifier was made), so this needs no thread.
    from .. import scram  # loaded at the first SCRAM login, not by every server

    ip = session.remote_ip
    if session.factory.authenticator.throttled(ip):
        session.sendNegativeResponse(tag, b"[UNAVAILABLE] too many failed logins from your address, try again later")
        return
    login: dict[str, str] = {}

    def verifier(username: str):
        found = session.factory.authenticator.scram_verifier(username)
        if found is None:
            return scram.unknown_user_verifier()
        login["account"], login["address"] = found[0], username
        return found[1]

    exchange = scram.ScramLogin(verifier)

    def failed(reason: str) -> None:
        log.info("imap scram login failed ip=%s: %s", ip, reason)
        session.factory.authenticator.failed(ip)
        session.sendNegativeResponse(tag, b"[AUTHENTICATIONFAILED] invalid credentials")

    def step(handler: Callable[[bytes], None]) -> Callable[[bytes], None]:
        """A response of the client handed to handler; cancellation and bad base64 end the command with BAD."""
        def run(line: bytes) -> None:
            try:
                data = _sasl_response(line)
            except syntax.CommandSyntaxError as e:
                session.sendBadResponse(tag, syntax.plain_text(str(e)))
                return
            if data is None:
                session.sendBadResponse(tag, b"authentication cancelled")
                return
            handler(data)
        return run

    def client_first(data: bytes) -> None:
        try:
            server_first = exchange.server_first(data.decode("utf-8"))
        except (scram.ScramException, UnicodeDecodeError) as e:
            failed(str(e))
            return
        if exchange.authzid and exchange.authzid != exchange.username:
            # RFC 5802 5.1: acting for another identity is not supported; naming one's own login is.
            session.sendNegativeResponse(tag, b"[AUTHORIZATIONFAILED] cannot log in as another user")
            return
        session.sendLine(b"+ " + base64.b64encode(server_first.encode()))
        session.read_line(step(client_final))

    def client_final(data: bytes) -> None:
        try:
            server_final = exchange.server_final(data.decode("utf-8"))
        except (scram.ScramException, UnicodeDecodeError) as e:
            failed(str(e))
            return
        # IMAP's tagged OK has no room for data (RFC 4959 4 does not apply to the last step): the server-final
        # message is one more challenge, which the client answers with an empty line.
        session.sendLine(b"+ " + base64.b64encode(server_final.encode()))
        session.read_line(step(done))

    def done(data: bytes) -> None:
        if data:
            session.sendBadResponse(tag, b"expected an empty response after the server's final message")
            return
        session.factory.authenticator.succeeded(ip)
        session.logged_in(login["account"])
        log.info("imap login account=%s address=%s ip=%s mechanism=scram-sha-256", login["account"],
                 login["address"], ip)
        session.sendPositiveResponse(tag, b"[CAPABILITY " + b" ".join(session.listCapabilities()) + b"] logged in")

    if initial:
        step(client_first)(initial)
        return
    session.sendLine(b"+ ")
    session.read_line(step(client_first))


async def _plain(session: Session, response: bytes) -> bytes:
    data = _sasl_response(response)
    if data is None:
        raise Bad(b"authentication cancelled")
    # RFC 4616 2: authzid NUL authcid NUL password.
    fields = data.split(b"\0")
    if len(fields) != 3:
        raise Bad(b"malformed PLAIN authentication response")
    authz, user, password = (f.decode("utf-8", "replace") for f in fields)
    if authz and authz != user:
        raise No(b"[AUTHORIZATIONFAILED] cannot log in as another user")
    return await _login(session, user, password)


async def _login(session: Session, user: str, password: str) -> bytes:
    if not session.login_allowed():
        raise No(b"[PRIVACYREQUIRED] login only after STARTTLS")
    try:
        account_name = await session.factory.authenticator.login(user, password, session.remote_ip)
    except authlib.Throttled:
        raise No(b"[UNAVAILABLE] too many failed logins from your address, try again later") from None
    if account_name is None:
        log.info("imap login failed address=%s ip=%s", user, session.remote_ip)
        raise No(b"[AUTHENTICATIONFAILED] invalid credentials")
    session.logged_in(account_name)
    log.info("imap login account=%s address=%s ip=%s", account_name, user, session.remote_ip)
    return b"[CAPABILITY " + b" ".join(session.listCapabilities()) + b"] logged in"


def id_(session: Session, tag: bytes, args: bytes) -> None:
    # RFC 2971: the client's identification is only of interest in logs.
    session.sendUntaggedResponse(b'ID ("name" "moxpy" "version" ' + syntax.quoted(__version__.encode()) + b")")
    session.sendPositiveResponse(tag, b"ID completed")


# RFC 5161 3.1: what ENABLE turns on, by its upper-case name, with the name ENABLED answers with.
ENABLEABLE = {b"IMAP4REV2": b"IMAP4rev2"}


def enable(session: Session, tag: bytes, args: bytes) -> None:
    # RFC 5161 3.1: ENABLED names the extensions this command turned on; unknown ones are ignored.
    words = args.split()
    if not words:
        session.sendBadResponse(tag, b"missing argument, ENABLE needs capability names")
        return
    turned_on = condstore.enable(session, words)  # CONDSTORE and QRESYNC
    for word in words:
        key = word.upper()
        if key in ENABLEABLE and key not in session.enabled:
            session.enabled.add(key)
            turned_on.append(ENABLEABLE[key])
    session.sendUntaggedResponse(b" ".join([b"ENABLED"] + turned_on))
    session.sendPositiveResponse(tag, b"ENABLE completed")


COMMANDS = [
    Command(b"CAPABILITY", ANY, capability),
    Command(b"NOOP", ANY, noop),
    Command(b"LOGOUT", ANY, logout),
    Command(b"STARTTLS", NOT_AUTHENTICATED, starttls),
    Command(b"LOGIN", NOT_AUTHENTICATED, login, (arguments.astring, arguments.final_astring)),
    Command(b"AUTHENTICATE", NOT_AUTHENTICATED, authenticate, (arguments.atom, arguments.rest_of_line)),
    Command(b"ID", ANY, id_, (arguments.rest_of_line,)),
    Command(b"ENABLE", AUTHENTICATED, enable, (arguments.rest_of_line,)),
]

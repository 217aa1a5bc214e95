"""Commands of any state and of the not authenticated state (RFC 3501
6.1, 6.2): CAPABILITY, NOOP, LOGOUT, STARTTLS, LOGIN, AUTHENTICATE
(PLAIN, RFC 4616, with the initial response of RFC 4959), and ID
(RFC 2971) and ENABLE (RFC 5161).

Passwords are checked by auth.Authenticator (in a thread, with a
throttle per address); a session logs in to one account.
"""

from __future__ import annotations

import base64
import binascii
import logging

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
    # RFC 3501 6.2.2
    if mechanism.upper() != b"PLAIN":
        session.sendNegativeResponse(tag, b"[CANNOT] unsupported authentication mechanism")
        return
    if initial:
        session.run(tag, _plain(session, initial))  # RFC 4959: the response on the command line
        return
    # An empty challenge; the response comes on its own line.
    session.sendLine(b"+ ")
    session.read_line(lambda line: session.run(tag, _plain(session, line)))


async def _plain(session: Session, response: bytes) -> bytes:
    response = response.strip()
    if response == b"*":
        raise Bad(b"authentication cancelled")
    try:
        data = b"" if response == b"=" else base64.b64decode(response, validate=True)
    except (binascii.Error, ValueError):
        raise Bad(b"invalid base64 in authentication response") from None
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


def enable(session: Session, tag: bytes, args: bytes) -> None:
    # RFC 5161: the extensions named that need enabling (CONDSTORE, QRESYNC) are; the others are left out.
    enabled = condstore.enable(session, args.split())
    session.sendUntaggedResponse(b" ".join([b"ENABLED"] + enabled))
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

"""What the tenant endpoints share: the member endpoints under /newsletter/
(http.py) and the send jobs under /api/send-jobs (jobshttp.py). A tenant
site calls both, and sees one convention: the same credentials, bodies
and answers, and JSON {error, message} with the same code for the same
failure (bad_request, unauthorized, forbidden, not_found,
method_not_allowed, too_large, rate_limited, server_error).

Credentials: an API token or OAuth access token ("Authorization: Bearer",
RFC 6750 2.1; tokens.authenticate), and where the endpoint allows it the
account's password (basic auth). Failures count toward the webapi's
per-address login throttle; an address past it gets 429 without its
credential being looked at.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging

from .. import auth as authlib
from .. import config as configlib
from .. import tokens as tokenlib

log = logging.getLogger("moxpy.newsletter")

MAX_PASSWORD = 1024  # as the webapi: longer is refused without hashing it
RETRY_AFTER = b"60"  # seconds, in a 429's Retry-After


class TenantError(Exception):
    """An answer other than the operation's: HTTP status, error code, message, and headers to add."""

    def __init__(self, status: int, error: str, message: str, headers: dict[bytes, bytes] | None = None):
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.headers = headers or {}


def rate_limited(message: str) -> TenantError:
    return TenantError(429, "rate_limited", message, {b"Retry-After": RETRY_AFTER})


def unauthorized(message: str, *, basic: bool, bearer_error: bool = False) -> TenantError:
    # RFC 9110 11.6.1: the schemes a client may use; RFC 6750 3 for the error of a bad bearer token.
    challenge = b'Bearer realm="moxpy"' + (b', error="invalid_token"' if bearer_error else b"")
    if basic:
        challenge += b', Basic realm="moxpy"'
    return TenantError(401, "unauthorized", message, {b"WWW-Authenticate": challenge})


async def principal(request, ip: str, scope: str, *, tokens, config: configlib.Source,
                    authenticator: authlib.Authenticator, access=None, basic: bool = False) -> tokenlib.Principal:
    """Who the request's credential acts for, when it allows scope; TenantError (401, 403, 429) otherwise.
    basic: the account's password is taken too."""
    header = (request.getHeader(b"authorization") or b"").decode("latin-1")
    scheme, _, credential = header.partition(" ")
    scheme, credential = scheme.lower(), credential.strip()
    if scheme == "bearer" and credential:
        if authenticator.throttled(ip):
            raise rate_limited("too many failed attempts from this address; try again later")
        try:
            if tokens is None:
                raise tokenlib.TokenError("tokens are not available")
            found = tokenlib.authenticate(credential, tokens, config.current(), access=access)
        except tokenlib.TokenError as e:
            log.info("tenant bearer token refused ip=%s: %s", ip, e)
            authenticator.failed(ip)
            raise unauthorized("unknown, revoked or expired token", basic=basic, bearer_error=True) from None
        authenticator.succeeded(ip)
    elif basic and scheme == "basic" and credential:
        login, password = _basic(credential)
        if not login or len(password) > MAX_PASSWORD:
            raise unauthorized("malformed basic credentials", basic=basic)
        try:
            account = await authenticator.login(login, password, ip)
        except authlib.Throttled:
            raise rate_limited("too many failed attempts from this address; try again later") from None
        if account is None:
            raise unauthorized("wrong email address or password", basic=basic)
        found = tokenlib.Principal(account=account)  # the password: every scope but admin
    else:
        wanted = f"a bearer token with scope {scope}" + (", or basic auth," if basic else "")
        raise unauthorized(f"{wanted} is required", basic=basic)
    if not found.account:
        raise TenantError(403, "forbidden", "the credential acts for no account")
    if not found.allows(scope):
        raise TenantError(403, "forbidden", f"the credential lacks scope {scope}")
    return found


def _basic(credential: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(credential, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    login, sep, password = decoded.partition(":")
    return (login, password) if sep else ("", "")


def body(request, max_body: int) -> bytes:
    """The request's body; TenantError 413 when it is larger than max_body."""
    too_large = TenantError(413, "too_large", f"the body is larger than {max_body} bytes")
    length = request.getHeader(b"content-length")
    if getattr(request, "body_too_large", False) or (length is not None and length.isdigit()
                                                       and int(length) > max_body):
        raise too_large
    request.content.seek(0)
    data = request.content.read(max_body + 1)
    if len(data) > max_body:
        raise too_large
    return data


def finish(request, status: int, content_type: bytes, data: bytes) -> int:
    """Answer with data, unless the client is gone; the status, for the log."""
    if request.finished or request._disconnected:
        return status
    request.setResponseCode(status)
    request.setHeader(b"Content-Type", content_type)
    request.setHeader(b"Cache-Control", b"no-store")
    request.setHeader(b"X-Content-Type-Options", b"nosniff")
    request.setHeader(b"Content-Length", str(len(data)).encode())
    request.write(data)
    request.finish()
    return status


def answer(request, status: int, value) -> int:
    """Answer with value as JSON."""
    return finish(request, status, b"application/json; charset=utf-8", json.dumps(value).encode())


def refused(request, e: TenantError) -> int:
    """Answer with a TenantError's status, headers and {error, message}."""
    for header, value in e.headers.items():
        request.setHeader(header, value)
    return answer(request, e.status, {"error": e.error, "message": e.message})

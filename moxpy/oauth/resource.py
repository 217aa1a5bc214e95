"""POST /oauth/token and GET /.well-known/jwks.json: twisted.web resources
the webapi's listeners serve beside the webapi (as /metrics).

The token endpoint answers only in JSON: a token (RFC 6749 5.1) or an
error (5.2), never with Cache-Control other than no-store. A client
secret is checked without a password hash (its SHA-256 is stored), but
failures count toward the same per-address throttle as failed logins,
and an address past it gets 429 without its credentials being looked at.
Neither secrets nor tokens are logged; a client id only once it is known.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

from twisted.internet.defer import Deferred
from twisted.web import resource, server

from . import clients as clientlib
from . import grant as grantlib

log = logging.getLogger("moxpy.oauth")

JWKS_MAX_AGE = 300  # seconds verifiers may cache the keys; they fetch again for a key id they do not know


class TokenResource(resource.Resource):
    isLeaf = True

    def __init__(self, access, authenticator):
        """access: the server's oauth.accesstoken.AccessTokens; authenticator: its auth.Authenticator."""
        super().__init__()
        self.access = access
        self.authenticator = authenticator

    def render(self, request):
        done = Deferred.fromFuture(asyncio.ensure_future(self._token(request)))
        done.addErrback(lambda f: log.error("oauth token: %s", f.getTraceback()))
        return server.NOT_DONE_YET

    async def _token(self, request) -> None:
        ip = request.getClientAddress().host
        started = time.monotonic()
        result, client_id, account = "ok", "", ""
        try:
            body, client_id, account = await self._grant(request, ip)
            _answer(request, 200, body)
        except grantlib.OAuthError as e:
            result, client_id = e.error, e.client_id
            if e.status == 405:
                request.setHeader(b"Allow", b"POST")
            if e.challenge:
                request.setHeader(b"WWW-Authenticate", grantlib.CHALLENGE.encode())
            _answer(request, e.status, e.body())
        except Exception:
            log.exception("oauth token")
            result = "server_error"
            _answer(request, 500, grantlib.OAuthError(result, "internal server error").body())
        finally:
            log.info("oauth token client=%s account=%s ip=%s result=%s duration=%.1fms", client_id or "-",
                     account or "-", ip, result, (time.monotonic() - started) * 1000)

    async def _grant(self, request, ip: str) -> tuple[bytes, str, str]:
        """The answer to a token request, with the client's id and account; OAuthError to refuse it."""
        if getattr(request, "body_too_large", False):
            data = b"x" * (grantlib.MAX_BODY + 1)  # what was kept of it is gone; it is refused as too large
        else:
            request.content.seek(0)
            data = request.content.read(grantlib.MAX_BODY + 1)
        token_request = grantlib.parse(request.method.decode("latin-1"),
                                       (request.getHeader(b"content-type") or b"").decode("latin-1"), data,
                                       (request.getHeader(b"authorization") or b"").decode("latin-1"))
        if self.authenticator.throttled(ip):
            # RFC 6749 defines no code for this; temporarily_unavailable (4.1.2.1) says what it is.
            raise grantlib.OAuthError("temporarily_unavailable", "too many failed attempts from this address; "
                                      "try again later", status=429)
        try:
            client = clientlib.authenticate(self.access.clients, token_request.client_id,
                                            token_request.client_secret)
        except clientlib.ClientError as e:
            log.info("oauth client refused ip=%s: %s", ip, e)
            self.authenticator.failed(ip)
            raise grantlib.OAuthError("invalid_client", "unknown client or wrong secret",
                                      challenge=token_request.basic) from None
        self.authenticator.succeeded(ip)
        if client.account not in self.access.source.current().Accounts:
            raise grantlib.OAuthError("unauthorized_client", "the client's account no longer exists",
                                      client_id=client.id)
        try:
            scopes = clientlib.grant(token_request.scope, client.scopes)
        except clientlib.ScopeError as e:
            raise grantlib.OAuthError("invalid_scope", str(e), client_id=client.id) from None
        token, lifetime = await self.access.issue(client, scopes)
        # RFC 6749 5.1.
        body = json.dumps({"access_token": token, "token_type": "Bearer", "expires_in": lifetime,
                           "scope": " ".join(scopes)}).encode()
        return body, client.id, client.account


class JWKSResource(resource.Resource):
    """The public keys of access tokens, for services that verify them themselves (RFC 7517 5)."""

    isLeaf = True

    def __init__(self, access):
        super().__init__()
        self.access = access

    def render(self, request):
        if request.method not in (b"GET", b"HEAD"):
            # RFC 9110 15.5.6: a 405 lists the methods the resource supports.
            request.setHeader(b"Allow", b"GET, HEAD")
            request.setResponseCode(405)
            request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
            request.setHeader(b"X-Content-Type-Options", b"nosniff")
            return b"405 - method not allowed - use get\n"
        body = json.dumps(self.access.jwks()).encode()
        request.setHeader(b"Content-Type", b"application/jwk-set+json")
        request.setHeader(b"Cache-Control", f"public, max-age={JWKS_MAX_AGE}".encode())
        return body


def _answer(request, status: int, body: bytes) -> None:
    if request.finished or request._disconnected:
        return
    request.setResponseCode(status)
    request.setHeader(b"Content-Type", b"application/json; charset=utf-8")
    # RFC 6749 5.1: tokens must not be cached; errors are not either.
    request.setHeader(b"Cache-Control", b"no-store")
    request.setHeader(b"Pragma", b"no-cache")
    request.setHeader(b"Content-Length", str(len(body)).encode())
    request.write(body)
    request.finish()

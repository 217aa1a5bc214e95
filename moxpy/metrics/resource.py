"""GET /metrics over HTTP: a twisted.web resource the webapi's listeners
serve beside the webapi, with basic auth of its own when configured.

The password is kept as an argon2id hash (the config's PasswordFile) and
checked by the server's Authenticator, as logins are: in a thread, cached
after a success (a scraper asks every few seconds), and with the same
per-IP throttle, so guessing it is as slow as guessing an account's.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac

from twisted.internet.defer import Deferred
from twisted.web import resource, server

from . import scrape

REALM = b'Basic realm="metrics"'


class MetricsResource(resource.Resource):
    isLeaf = True

    def __init__(self, sizes: scrape.Sizes, authenticator, username: str = "", password_hash: str = ""):
        """With a username, requests must carry it and the password of password_hash in basic auth;
        authenticator: the server's (moxpy.auth.Authenticator)."""
        super().__init__()
        self.sizes = sizes
        self.authenticator = authenticator
        self.username = username.encode()
        self.password_hash = password_hash

    def render(self, request):
        if request.method not in (b"GET", b"HEAD"):
            # RFC 9110 15.5.6: a 405 lists the methods the resource supports.
            request.setHeader(b"Allow", b"GET, HEAD")
            return self._text(request, 405, "405 - method not allowed - use get")
        if not self.username:
            return self._metrics(request)
        done = Deferred.fromFuture(asyncio.ensure_future(self._authorized(request)))
        done.addCallback(lambda body: None if request.finished or request._disconnected else _finish(request, body))
        return server.NOT_DONE_YET

    async def _authorized(self, request) -> bytes:
        from ..auth import Throttled

        scheme, _, encoded = (request.getHeader(b"authorization") or b"").partition(b" ")
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True) if scheme.lower() == b"basic" else b""
        except (binascii.Error, ValueError):
            decoded = b""
        login, colon, password = decoded.partition(b":")
        ip = request.getClientAddress().host
        try:
            # The password is checked whatever the name, so the time taken does not tell a right name.
            ok = await self.authenticator.check_secret(password.decode("utf-8", "replace"), self.password_hash, ip)
            if ok and not (colon and hmac.compare_digest(login, self.username)):
                ok = False
                self.authenticator.failed(ip)
        except Throttled:
            return self._text(request, 429, "429 - too many failed logins - try again later")
        if not ok:
            request.setHeader(b"WWW-Authenticate", REALM)
            return self._text(request, 401, "401 - unauthorized - use http basic auth with the metrics credentials")
        return self._metrics(request)

    def _metrics(self, request) -> bytes:
        body = scrape.exposition(self.sizes)
        request.setHeader(b"Content-Type", scrape.CONTENT_TYPE.encode())
        return body

    def _text(self, request, status: int, text: str) -> bytes:
        request.setResponseCode(status)
        request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
        request.setHeader(b"X-Content-Type-Options", b"nosniff")
        return (text + "\n").encode()


def _finish(request, body: bytes) -> None:
    if request.method != b"HEAD":
        request.write(body)
    request.finish()

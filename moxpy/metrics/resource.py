"""GET /metrics over HTTP: a twisted.web resource the webapi's listeners
serve beside the webapi, with basic auth of its own when configured.

The credentials are compared in constant time, so the answer's timing
says nothing about how much of a guess was right. There is no throttle:
pick a long random password.
"""

from __future__ import annotations

import base64
import binascii
import hmac

from twisted.web import resource

from . import scrape

REALM = b'Basic realm="metrics"'


class MetricsResource(resource.Resource):
    isLeaf = True

    def __init__(self, sizes: scrape.Sizes, username: str = "", password: str = ""):
        """With a username, requests must carry it and the password in basic auth."""
        super().__init__()
        self.sizes = sizes
        self.username = username.encode()
        self.password = password.encode()

    def render(self, request):
        if request.method not in (b"GET", b"HEAD"):
            # RFC 9110 15.5.6: a 405 lists the methods the resource supports.
            request.setHeader(b"Allow", b"GET, HEAD")
            return self._text(request, 405, "405 - method not allowed - use get")
        if self.username and not self._authorized(request.getHeader(b"authorization") or b""):
            request.setHeader(b"WWW-Authenticate", REALM)
            return self._text(request, 401, "401 - unauthorized - use http basic auth with the metrics credentials")
        body = scrape.exposition(self.sizes)
        request.setHeader(b"Content-Type", scrape.CONTENT_TYPE.encode())
        return body

    def _authorized(self, header: bytes) -> bool:
        scheme, _, encoded = header.partition(b" ")
        if scheme.lower() != b"basic":
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        login, _, password = decoded.partition(b":")
        # Both compared, always: a wrong name takes as long as a wrong password.
        return hmac.compare_digest(login, self.username) & hmac.compare_digest(password, self.password)

    def _text(self, request, status: int, text: str) -> bytes:
        request.setResponseCode(status)
        request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
        request.setHeader(b"X-Content-Type-Options", b"nosniff")
        return (text + "\n").encode()

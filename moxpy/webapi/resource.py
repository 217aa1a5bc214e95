"""The webapi over HTTP: a twisted.web resource.

GET  BASE            the index page listing every method (any HTTP method, as mox)
GET  BASE<Method>    the method's page: example request, example response, Call button
POST BASE<Method>    call the method: form field "request" holds JSON; basic auth

Another HTTP method on a method URL is 405, an unknown path or method 404,
both short plain text as mox sends them. Other resources of the listener
(GET /metrics, see moxpy.metrics; the OAuth token endpoint and keys, see
moxpy.oauth) are served at their exact paths.

Order of checks on a call, as mox: unknown method (404), credentials (429
when the IP failed too often, 401 when missing or wrong), then the body
(400 "protocol" for a bad content type, form or JSON), then the method.
Credentials are the account's password (basic auth, every method) or an
API token or OAuth access token ("Authorization: Bearer TOKEN", RFC 6750
2.1; see tokens.py);
a token without the scope a method declares (types.METHODS) gets 403
with code permissionDenied before its body is read. Failed tokens count
toward the same per-IP throttle as failed passwords.

A request past the HTTP limits is answered before its connection closes:
414 for a request line longer than MAX_LENGTH, 431 for a header line
longer than that or headers adding up past totalHeadersSize or maxHeaders,
401 when the header too large is Authorization, and a plain 400 for
anything else malformed.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import io
import logging
import time
import urllib.parse
from http import HTTPStatus
from typing import Any

from twisted.internet import interfaces
from twisted.internet.defer import Deferred
from twisted.web import http, resource, server

from .. import auth as authlib
from .. import metrics
from .. import offload
from .. import tokens as tokenlib
from ..backpressure import PART, Backpressure, read_exactly
from ..message.compose import Attachment
from ..store import STORAGE_UNAVAILABLE, storage_unavailable
from . import codec, examples, form
from .errors import WebapiError
from .methods import API, Call, Raw, RawFile
from .types import METHODS, RAW

log = logging.getLogger("moxpy.webapi")

UPLOAD_KEYS = ("alternativefile", "inlinefile", "attachedfile")

# Longer than any password people type or generate, shorter than what it
# would cost to hash: anything longer is refused without a password check.
MAX_PASSWORD = 1024


@functools.cache
def _templates():
    """The HTML pages' templates, made at the first page: a server that is only called never loads jinja2."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("moxpy.webapi", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


class LimitedRequest(server.Request):
    """A request that keeps at most max_body bytes of its body and notes when there was more.

    It also keeps twisted.web's own pages from clients: a failure while
    rendering is a short plain-text 500, and every status goes out with its
    standard reason phrase (twisted.web knows none for 429).
    """

    max_body = 0
    body_too_large = False
    _received = 0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # _read_form parses the body; twisted.web's own parse would do it a
        # second time and answer a form it cannot parse with a bare 400.
        self._parsePOSTFormSubmission = False

    def handleContentChunk(self, data: bytes) -> None:
        self._received += len(data)
        if self.max_body and self._received > self.max_body:
            if not self.body_too_large:
                self.body_too_large = True
                self.content.seek(0)
                self.content.truncate()  # drop what was kept; the call fails anyway
            return
        super().handleContentChunk(data)

    def setResponseCode(self, code: int, message: bytes | None = None) -> None:
        if message is None:
            message = reason_phrase(code)
        super().setResponseCode(code, message)

    def processingFailed(self, reason):
        log.error("webapi %s %s: %s", self.method.decode("latin-1"), self.path.decode("latin-1"),
                  reason.getTraceback())
        if not self.startedWriting:
            body = b"500 - internal server error\n"
            self.setResponseCode(500)
            self.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
            self.setHeader(b"Content-Length", str(len(body)).encode())
            self.write(body)
        if not self.finished:
            self.finish()
        return reason


# RFC 9110 15.5.15 renamed 414; Python before 3.13 has the old name.
_PHRASES = {414: b"URI Too Long"}


def reason_phrase(code: int) -> bytes:
    """The standard reason phrase of a status code (RFC 9110 15)."""
    if code in _PHRASES:
        return _PHRASES[code]
    try:
        return HTTPStatus(code).phrase.encode()
    except ValueError:
        return b"Unknown Status"


def request_factory(max_body: int) -> type[LimitedRequest]:
    return type("WebAPIRequest", (LimitedRequest,), {"max_body": max_body})


class WebAPIChannel(http.HTTPChannel):
    """An HTTP channel that says why it refuses a request, then closes.

    twisted.web keeps its limits (MAX_LENGTH per line, totalHeadersSize,
    maxHeaders) but answers them by closing the connection, at most after a
    bare 400. Here the answer names the limit, and the connection lingers:
    the rest of the client's request is read and dropped for a moment, so
    the close does not reset the connection before the client has read the
    answer (a close with unread data sends a TCP RST).
    """

    LINGER = 2.0  # seconds to drain a refused request before closing

    _in_headers = False
    _refused = False
    _linger_call = None
    # Set to end the connection after the next response (with "Connection: close"), so that the client
    # connects again (handoff.rebalance).
    close_after_response = False

    def checkPersistence(self, request, version):
        if self.close_after_response:
            request.responseHeaders.setRawHeaders(b"Connection", [b"close"])
            return False
        return super().checkPersistence(request, version)

    def dataReceived(self, data):
        if self._refused:
            return
        super().dataReceived(data)

    def lineReceived(self, line):
        if self._refused:
            return
        if self._receivedHeaderSize + len(line) > self.totalHeadersSize:
            return self._too_large(line)
        super().lineReceived(line)
        if line and not self._in_headers:
            self._in_headers = True  # the request line is in; header lines follow

    def lineLengthExceeded(self, line):
        if not self._in_headers:
            # RFC 9110 15.5.15: the target is longer than the server will read.
            return self._refuse(414, "uri too long")
        return self._too_large(line)

    def headerReceived(self, line):
        if self._receivedHeaderCount >= self.maxHeaders:
            self._too_large(line)
            return False
        return super().headerReceived(line)

    def allHeadersReceived(self):
        self._in_headers = False
        super().allHeadersReceived()

    def _respondToBadRequestAndDisconnect(self):
        # Twisted's answer to every request it cannot parse.
        self._refuse(400, "bad request")

    def _too_large(self, line: bytes) -> None:
        if line[:14].lower() == b"authorization:":
            # Credentials too large to be anyone's: refused as wrong ones are.
            return self._refuse(401, "unauthorized - use http basic auth with email address as username",
                                [b"WWW-Authenticate: Basic realm=webapi"])
        # RFC 6585 5.
        return self._refuse(431, "request header fields too large")

    def _refuse(self, status: int, text: str, headers: list[bytes] = ()) -> None:
        if self._refused:
            return
        self._refused = True
        self._buffer = b""  # nothing more of this connection is parsed
        body = f"{status} - {text}\n".encode()
        head = [b"HTTP/1.1 %d %s" % (status, reason_phrase(status)),
                b"Content-Type: text/plain; charset=utf-8",
                b"X-Content-Type-Options: nosniff",
                b"Content-Length: %d" % len(body),
                b"Connection: close",
                *headers]
        self.transport.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        self.setTimeout(None)
        # ISSLTransport, not the TLS class: wrappers (the connection cap) provide their transport's interfaces.
        if interfaces.ITCPTransport.providedBy(self.transport) and not interfaces.ISSLTransport.providedBy(self.transport):
            # The FIN tells the client the answer is complete; its request
            # is still read until the client closes or the linger is over.
            self.transport.loseWriteConnection()
        from twisted.internet import reactor

        self._linger_call = reactor.callLater(self.LINGER, self.transport.loseConnection)

    def connectionLost(self, reason):
        if self._linger_call is not None and self._linger_call.active():
            self._linger_call.cancel()
        super().connectionLost(reason)


class WebAPIResource(resource.Resource):
    isLeaf = True

    def __init__(self, api: API, authenticator: authlib.Authenticator, base_path: str = "/webapi/v0/",
                 pages: dict[str, resource.Resource] | None = None, admin_hash: str = "", access=None):
        """pages: other resources the listener serves, by exact path (GET /metrics), or by a prefix ending in
        "/" for every path under it (/newsletter/, the resource reads request.path itself). Bearer tokens are
        checked against api.tokens, and OAuth access tokens with access (oauth.accesstoken.AccessTokens)
        when given. admin_hash: the argon2id hash of the admin password, "" for no admin login."""
        super().__init__()
        self.api = api
        self.authenticator = authenticator
        self.base = base_path if base_path.endswith("/") else base_path + "/"
        self.pages = pages or {}
        self.admin_hash = admin_hash
        self.access = access

    # Routing: by path first, then by HTTP method, in mox's order. Only GET
    # is a GET (mox's handler sees HEAD as another method); twisted.web
    # leaves out the body of an answer to HEAD.

    def render(self, request):
        path = urllib.parse.unquote(request.path.decode("latin-1"))
        if path in self.pages:
            return self.pages[path].render(request)
        if (prefix := path[:path.find("/", 1) + 1]) and prefix in self.pages:
            return self.pages[prefix].render(request)
        method = request.method.decode("latin-1")
        if path in ("/", self.base.rstrip("/"), self.base.rsplit("/", 2)[0] + "/"):
            if method != "GET":
                return self._method_not_allowed(request, "405 - method not allow", "GET")
            request.setResponseCode(303)
            request.setHeader(b"Location", self.base.encode())
            return b""
        if not path.startswith(self.base):
            return self._not_found(request)
        name = path[len(self.base):]
        if name == "":
            # As mox, the index answers any method.
            return self._html(request, "index.html", base=self.base, methods=METHODS.values(), openapi=True)
        if name in ("docs", "openapi.json"):
            if method not in ("GET", "HEAD"):
                return self._method_not_allowed(request, "405 - method not allowed - use get", "GET, HEAD")
            # The docs (with markdown-it) and the OpenAPI document are loaded when first asked for.
            if name == "docs":
                from . import docs

                return self._html(request, "docs.html", base=self.base, content=docs.html())
            from . import openapi

            request.setHeader(b"Content-Type", b"application/json")
            return codec.encode(openapi.document(self.base))
        if name not in METHODS:
            return self._not_found(request)
        if method == "GET":
            return self._method_page(request, name)
        if method == "POST":
            future = asyncio.ensure_future(self._call(request, name))
            Deferred.fromFuture(future).addErrback(lambda f: log.error("webapi %s: %s", name, f.getTraceback()))
            return server.NOT_DONE_YET
        return self._method_not_allowed(request, "405 - method not allowed - use get or post", "GET, POST")

    def _method_page(self, request, name: str) -> bytes:
        method = METHODS[name]
        example_request = codec.encode_pretty(examples.REQUESTS[name])
        example_response = "" if method.response == RAW else codec.encode_pretty(examples.RESPONSES[name])
        return self._html(request, "method.html", base=self.base, method=method, raw=method.response == RAW,
                          request=example_request, response=example_response,
                          request_rows=min(40, example_request.count("\n") + 2),
                          response_rows=min(40, example_response.count("\n") + 2))

    # Calling a method.

    async def _call(self, request, name: str) -> None:
        method = METHODS[name]
        remote_ip = request.getClientAddress().host
        started = time.monotonic()
        result_code = "ok"
        account = ""
        try:
            bearer = _bearer(request)
            if bearer is not None:
                try:
                    principal = self._token_principal(bearer, remote_ip)
                except authlib.Throttled:
                    result_code = "ratelimited"
                    return self._plain(request, 429, "429 - too many auth attempts")
                except tokenlib.TokenError:
                    result_code = "badauth"
                    return self._unauthorized(request, "unknown, revoked or expired token", bearer=True)
                account = principal.account
                login = _account_address(self.api.config.current(), account)
            else:
                principal = None  # the password: every scope but admin
                login, password = _basic_auth(request)
                if login is None or len(password) > MAX_PASSWORD:
                    result_code = "badauth"
                    return self._unauthorized(request, "use http basic auth with email address as username")
                try:
                    if login == tokenlib.ADMIN_LOGIN:
                        principal = tokenlib.ADMIN if await self._admin_login(password, remote_ip) else None
                        ok = principal is not None
                    else:
                        account = await self.authenticator.login(login, password, remote_ip)
                        ok = account is not None
                except authlib.Throttled:
                    result_code = "ratelimited"
                    return self._plain(request, 429, "429 - too many auth attempts")
                if not ok:
                    result_code = "badauth"
                    return self._unauthorized(request, "use http basic auth with email address as username")
            denied = _denied(principal, method.scope, name)
            if denied:
                result_code = "permissionDenied"
                return self._json(request, 403, {"Code": "permissionDenied", "Message": denied})
            try:
                if getattr(request, "body_too_large", False):
                    code = "messageTooLarge" if name == "Send" else "protocol"
                    raise WebapiError(code, f"request body larger than {request.max_body} bytes")
                # Megabytes of form and JSON (a Send with attachments) are decoded in a thread.
                req, uploads = await offload.run(_body_size(request), _parse_call, request, method.request)
                call = Call(account=account, login=login, remote_ip=remote_ip, principal=principal, uploads=uploads,
                            idempotency_key=_header(request, b"idempotency-key"))
                result = await getattr(self.api, name)(call, req)
                if isinstance(result, RawFile):
                    await self._send_file(request, result)
                    return
                if isinstance(result, Raw):
                    content_type, body = result.content_type, result.data
                else:
                    content_type, body = "application/json; charset=utf-8", codec.encode(result)
            except WebapiError as e:
                result_code = e.code
                return self._json(request, 403 if e.code == "permissionDenied" else 400, e.as_dict())
            except Exception as e:
                result_code = "server"
                if storage_unavailable(e):
                    log.warning("webapi %s: %s: %s", name, STORAGE_UNAVAILABLE, e)
                    return self._json(request, 400, {"Code": "server", "Message": STORAGE_UNAVAILABLE})
                log.exception("webapi %s", name)
                return self._json(request, 400, {"Code": "server", "Message": "internal server error"})
            self._write(request, 200, content_type, body)
        finally:
            duration = time.monotonic() - started
            metrics.webapi_call(name, result_code, duration)
            # As mox: a call that went well is a debug line, one that failed is worth an operator's look.
            log.log(logging.DEBUG if result_code == "ok" else logging.INFO,
                    "webapi call method=%s account=%s ip=%s result=%s duration=%.1fms", name, account or "-",
                    remote_ip, result_code, duration * 1000)

    # Responses.

    def _write(self, request, status: int, content_type: str, body: bytes) -> None:
        if request.finished or request._disconnected:
            return
        request.setResponseCode(status)
        request.setHeader(b"Content-Type", content_type.encode())
        request.setHeader(b"Content-Length", str(len(body)).encode())
        request.write(body)
        request.finish()

    async def _send_file(self, request, result: RawFile) -> None:
        """Answer with a stored message read and written in parts, at the pace the client reads; a client
        that goes away meanwhile stops it. The file is closed whatever happens."""
        try:
            if request.finished or request._disconnected:
                return
            request.setResponseCode(200)
            request.setHeader(b"Content-Type", result.content_type.encode())
            request.setHeader(b"Content-Length", str(result.size).encode())
            pace = Backpressure()
            request.registerProducer(pace, True)
            for start in range(0, result.size, PART):
                try:
                    data = await asyncio.to_thread(read_exactly, result.file, start, min(start + PART, result.size))
                except OSError as e:
                    # The status and length are sent: all that can be done is to close the connection short.
                    log.info("webapi message removed while it was sent, closing the connection: %s", e)
                    request.unregisterProducer()
                    request.transport.loseConnection()
                    return
                if request._disconnected:
                    return
                request.write(data)
                await pace.wait()
                if request._disconnected:
                    return
            request.unregisterProducer()
            request.finish()
        finally:
            result.file.close()

    def _json(self, request, status: int, value) -> None:
        self._write(request, status, "application/json; charset=utf-8", codec.encode(value))

    def _plain(self, request, status: int, text: str) -> None:
        request.setHeader(b"X-Content-Type-Options", b"nosniff")
        self._write(request, status, "text/plain; charset=utf-8", (text + "\n").encode())

    def _token_principal(self, credential: str, remote_ip: str) -> tokenlib.Principal:
        """The account and scopes of a bearer credential, under the login throttle: Throttled when the
        address failed too often (the credential is not looked at), TokenError when it is not valid."""
        if self.authenticator.throttled(remote_ip):
            raise authlib.Throttled()
        try:
            if self.api.tokens is None:
                raise tokenlib.TokenError("tokens are not available")
            principal = tokenlib.authenticate(credential, self.api.tokens, self.api.config.current(),
                                              access=self.access)
        except tokenlib.TokenError as e:
            log.info("webapi bearer token refused ip=%s: %s", remote_ip, e)
            self.authenticator.failed(remote_ip)
            raise
        self.authenticator.succeeded(remote_ip)
        return principal

    async def _admin_login(self, password: str, remote_ip: str) -> bool:
        """Whether password is the admin password, under the login throttle (Throttled when refused
        unchecked). Without an admin password configured no password is."""
        if not self.admin_hash:
            if self.authenticator.throttled(remote_ip):
                raise authlib.Throttled()
            self.authenticator.failed(remote_ip)
            return False
        return await self.authenticator.check_secret(password, self.admin_hash, remote_ip)

    def _unauthorized(self, request, message: str, bearer: bool = False) -> None:
        if bearer:
            # RFC 6750 3: the challenge of a bad bearer token.
            request.setHeader(b"WWW-Authenticate", b'Bearer realm="webapi", error="invalid_token"')
        else:
            request.setHeader(b"WWW-Authenticate", b"Basic realm=webapi")
        self._plain(request, 401, "401 - unauthorized - " + message)

    def _text(self, request, status: int, text: str) -> bytes:
        """A plain-text answer from render, like Go's http.Error."""
        request.setResponseCode(status)
        request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
        request.setHeader(b"X-Content-Type-Options", b"nosniff")
        return (text + "\n").encode()

    def _not_found(self, request) -> bytes:
        return self._text(request, 404, "404 page not found")

    def _method_not_allowed(self, request, text: str, allow: str) -> bytes:
        # RFC 9110 15.5.6: a 405 lists the methods the resource does support.
        request.setHeader(b"Allow", allow.encode())
        return self._text(request, 405, text)

    def _html(self, http_request, template: str, **args) -> bytes:
        http_request.setHeader(b"Content-Type", b"text/html; charset=utf-8")
        return _templates().get_template(template).render(**args).encode()


def _bearer(request) -> str | None:
    """The credential of an "Authorization: Bearer" header (RFC 6750 2.1), None for another scheme."""
    header = (request.getHeader(b"authorization") or b"").decode("latin-1")
    if header[:7].lower() != "bearer ":
        return None
    return header[7:].strip()


def _denied(principal: tokenlib.Principal | None, scope: str, name: str) -> str:
    """Why the caller may not call the method, "" when it may."""
    if principal.allows(scope) if principal else scope != "admin":
        return ""
    if scope == "admin":
        return f"{name} needs an admin credential: basic auth as admin, or a token with scope admin"
    if principal is tokenlib.ADMIN:
        return f"the admin login is for account administration; {name} needs an account's credentials"
    return f"token lacks scope {scope!r} for {name}"


def _account_address(config, account: str) -> str:
    """The address a token's calls use where a password's use its login: the account's first own address."""
    acc = config.Accounts.get(account)
    for dest in (acc.Destinations if acc else ()):
        if not dest.startswith("@"):
            return dest
    return ""


def _header(request, name: bytes) -> str | None:
    value = request.getHeader(name)
    return None if value is None else value.decode("latin-1").strip()


def _basic_auth(request) -> tuple[str | None, str]:
    header = (request.getHeader(b"authorization") or b"").decode("latin-1")
    if not header or not header[:6].lower() == "basic ":
        return None, ""
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None, ""
    login, sep, password = decoded.partition(":")
    if not sep or not login:
        return None, ""
    return login, password


def _body_size(request) -> int:
    body = request.content
    body.seek(0, io.SEEK_END)
    return body.tell()


def _parse_call(request, request_type) -> tuple[Any, dict[str, list[Attachment]]]:
    """The decoded request of a call, and its uploaded files."""
    request_json, uploads = _read_form(request)
    if not request_json:
        raise WebapiError("protocol", "missing/empty request")
    return codec.decode(request_json, request_type), uploads


def _read_form(request) -> tuple[str, dict[str, list[Attachment]]]:
    """The "request" field and uploaded files of a urlencoded or multipart form."""
    from multipart import MultipartError, MultipartParser, parse_options_header

    content_type = (request.getHeader(b"content-type") or b"").decode("latin-1").strip()
    mediatype, options = parse_options_header(content_type)
    body = request.content
    body.seek(0)
    if mediatype == "application/x-www-form-urlencoded":
        fields = form.urlencoded_fields(body.read())
        return (fields.get("request") or [""])[0], {}
    if mediatype == "multipart/form-data":
        boundary = options.get("boundary")
        if not boundary:
            raise WebapiError("protocol", "parsing form: multipart/form-data without boundary")
        request_json = ""
        uploads: dict[str, list[Attachment]] = {}
        try:
            for part in MultipartParser(body, boundary, part_limit=1000):
                if part.name == "request" and part.filename is None:
                    # JSON is UTF-8 (RFC 8259 8.1), whatever charset the part names.
                    try:
                        request_json = part.raw.decode("utf-8")
                    except UnicodeDecodeError:
                        raise WebapiError("protocol", "parsing form: request is not utf-8") from None
                elif part.name in UPLOAD_KEYS:
                    content_type = part.headers.get("Content-Type", "") if "Content-Type" in part.headers else ""
                    uploads.setdefault(part.name, []).append(Attachment(
                        data=part.raw,
                        name=part.filename or "",
                        content_type=content_type,
                        content_id=part.headers.get("Content-ID", "") or "",
                    ))
        except MultipartError as e:
            raise WebapiError("protocol", f"parsing form: {e}") from None
        return request_json, uploads
    raise WebapiError("protocol", f"unknown content-type {content_type!r}: use application/x-www-form-urlencoded or multipart/form-data")



"""The member endpoints under /newsletter/: a twisted.web resource the
webapi's listeners serve beside the webapi (as /oauth/token).

POST /newsletter/subscribe           {list_id, email, preferences}
GET  /newsletter/confirm?token=      HTML: the link of the confirmation message
POST /newsletter/unsubscribe-token   {list_id, email}
POST /newsletter/unsubscribe         {token}
GET  /newsletter/preferences?list_id=&email=
POST /newsletter/preferences         {list_id, email, preferences}
POST /newsletter/one-click?token=    RFC 8058: body List-Unsubscribe=One-Click
GET  /newsletter/one-click?token=    HTML: a button that makes that POST

The JSON endpoints are the tenant's: an API token or OAuth access token
with scope newsletter:members, or the account's password (basic auth);
the account they act for is the credential's, and another account's list
is a 404 as one that does not exist. Confirm and one-click are the
recipient's, authorised by their signed tokens alone. A GET never changes
a subscription but confirm's: mail scanners follow links in messages, and
a GET of the one-click link must not unsubscribe (RFC 8058 3.2 asks for a
POST).

Order of checks: the rate per address (429), the route (404, 405), the
credential (401, 403), the body (413, 400), then the operation. JSON
answers are {error, message}; the pages are HTML. Tokens and passwords
are never logged; the log has the path without its query.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import urllib.parse
from typing import Any

import msgspec
from twisted.internet.defer import Deferred
from twisted.web import resource, server

from .. import auth as authlib
from .. import ratelimit
from ..store.tokens import TokenStore
from . import links, signing, tenanthttp
from .members import MemberError, Members
from .tenanthttp import TenantError

log = logging.getLogger("moxpy.newsletter")

SCOPE = "newsletter:members"
PREFIX = "/newsletter/"
MAX_BODY = 64 * 1024  # bytes: a request here is an address and a few preferences
# Requests per address (and its networks, see ratelimit.py) per minute: a tenant's site calling for its
# visitors, and recipients following links.
RATE_WINDOW = ratelimit.Window(60.0, (600, 1800, 5400))

# MemberError kinds and the HTTP status they answer with.
_STATUS = {
    MemberError.BAD_REQUEST: 400,
    MemberError.TOKEN_INVALID: 400,
    MemberError.TOKEN_EXPIRED: 400,
    MemberError.TOKEN_USED: 400,
    MemberError.LIST_NOT_FOUND: 404,
    MemberError.MEMBER_NOT_FOUND: 404,
    MemberError.SEND_FAILED: 503,
}


class _Subscribe(msgspec.Struct, forbid_unknown_fields=True):
    list_id: int
    email: str
    preferences: dict[str, Any] | None = None


class _Member(msgspec.Struct, forbid_unknown_fields=True):
    list_id: int
    email: str


class _Token(msgspec.Struct, forbid_unknown_fields=True):
    token: str


class _Preferences(msgspec.Struct, forbid_unknown_fields=True):
    list_id: int
    email: str
    preferences: dict[str, Any]


@functools.cache
def _templates():
    import jinja2

    return jinja2.Environment(loader=jinja2.PackageLoader("moxpy.newsletter", "templates"), autoescape=True,
                              trim_blocks=True, lstrip_blocks=True)


class NewsletterResource(resource.Resource):
    isLeaf = True

    def __init__(self, members: Members, tokens: TokenStore | None, authenticator: authlib.Authenticator,
                 access=None):
        """tokens: the API tokens; access: oauth.accesstoken.AccessTokens, for OAuth access tokens."""
        super().__init__()
        self.members = members
        self.tokens = tokens
        self.authenticator = authenticator
        self.access = access
        self.rate = ratelimit.Limiter((RATE_WINDOW,))
        self._routes = {
            ("POST", "subscribe"): (True, self._subscribe),
            ("POST", "unsubscribe-token"): (True, self._unsubscribe_token),
            ("POST", "unsubscribe"): (True, self._unsubscribe),
            ("GET", "preferences"): (True, self._get_preferences),
            ("POST", "preferences"): (True, self._set_preferences),
            ("GET", "confirm"): (False, self._confirm),
            ("GET", "one-click"): (False, self._one_click_page),
            ("POST", "one-click"): (False, self._one_click),
        }

    def render(self, request):
        done = Deferred.fromFuture(asyncio.ensure_future(self._handle(request)))
        done.addErrback(lambda f: log.error("newsletter: %s", f.getTraceback()))
        return server.NOT_DONE_YET

    async def _handle(self, request) -> None:
        ip = request.getClientAddress().host
        method = request.method.decode("latin-1")
        path = urllib.parse.unquote(request.path.decode("latin-1"))
        started = time.monotonic()
        status, account = 500, ""
        try:
            if not self.rate.can_add(ip):
                raise tenanthttp.rate_limited("too many requests from this address; try again in a minute")
            self.rate.add(ip)
            name = path[len(PREFIX):] if path.startswith(PREFIX) else ""
            route = self._routes.get((method, name))
            if route is None:
                allowed = sorted(m for m, n in self._routes if n == name)
                if not allowed:
                    raise TenantError(404, "not_found", "no such endpoint")
                raise TenantError(405, "method_not_allowed", f"use {' or '.join(allowed)}",
                               {b"Allow": ", ".join(allowed).encode()})
            authenticated, handler = route
            if authenticated:
                account = await self._account(request, ip)
            status = await handler(request, account)
        except TenantError as e:
            status = tenanthttp.refused(request, e)
        except MemberError as e:
            status = _STATUS.get(e.kind, 400)
            _json(request, status, {"error": e.kind, "message": e.message})
        except Exception:
            log.exception("newsletter %s %s", method, path[:200])
            status = 500
            _json(request, 500, {"error": "server_error", "message": "internal server error"})
        finally:
            log.info("newsletter %s %s account=%s ip=%s status=%d duration=%.1fms", method, path[:200],
                     account or "-", ip, status, (time.monotonic() - started) * 1000)

    # Credentials.

    async def _account(self, request, ip: str) -> str:
        """The account of the request's credential, which must allow SCOPE; TenantError otherwise."""
        found = await tenanthttp.principal(request, ip, SCOPE, tokens=self.tokens, config=self.members.config,
                                           authenticator=self.authenticator, access=self.access, basic=True)
        return found.account

    # The tenant's JSON endpoints.

    async def _subscribe(self, request, account: str) -> int:
        body = _body(request, _Subscribe)
        done = await self.members.subscribe(account, body.list_id, body.email, body.preferences)
        return _json(request, 200, {"status": done.status, "confirm_token": done.confirm_token or None})

    async def _unsubscribe_token(self, request, account: str) -> int:
        body = _body(request, _Member)
        return _json(request, 200, {"unsubscribe_token": self.members.unsubscribe_token(account, body.list_id,
                                                                                       body.email)})

    async def _unsubscribe(self, request, account: str) -> int:
        body = _body(request, _Token)
        try:
            member = await self.members.unsubscribe(account, body.token)
        except MemberError as e:
            if e.kind == MemberError.MEMBER_NOT_FOUND:
                # A token names one member; saying which part failed would tell nothing useful.
                raise MemberError(MemberError.LIST_NOT_FOUND, "no such list or member") from None
            raise
        return _json(request, 200, {"status": member.status})

    async def _get_preferences(self, request, account: str) -> int:
        query = _query(request)
        list_id = _list_id(query.get("list_id", ""))
        member = self.members.preferences(account, list_id, query.get("email", ""))
        return _json(request, 200, _member_answer(member))

    async def _set_preferences(self, request, account: str) -> int:
        body = _body(request, _Preferences)
        member = await self.members.set_preferences(account, body.list_id, body.email, body.preferences)
        return _json(request, 200, _member_answer(member))

    # The recipient's links.

    async def _confirm(self, request, account: str) -> int:
        try:
            mailing_list, _ = await self.members.confirm(_query(request).get("token", ""))
        except MemberError as e:
            return _page(request, 400, "message.html", title="This link does not work", text=_link_problem(e))
        return _page(request, 200, "message.html", title="Subscription confirmed",
                     text=f"You are subscribed to {mailing_list.name}. Thank you!")

    async def _one_click_page(self, request, account: str) -> int:
        token = _query(request).get("token", "")
        try:
            claims = self.members.claims(token, signing.UNSUBSCRIBE)
        except MemberError as e:
            return _page(request, 400, "message.html", title="This link does not work", text=_link_problem(e))
        found = self.members.link_list(claims.list_id)
        action = links.ONE_CLICK_PATH + "?" + urllib.parse.urlencode({"token": token})
        return _page(request, 200, "one_click.html", title="Unsubscribe", list_name=found.name if found else "",
                     email=claims.email, action=action)

    async def _one_click(self, request, account: str) -> int:
        token = _query(request).get("token", "")
        if not _one_click_body(request):
            raise TenantError(400, "bad_request", "the body must be List-Unsubscribe=One-Click (RFC 8058)")
        await self.members.one_click(token)
        return _page(request, 200, "message.html", title="Unsubscribed",
                     text="You will get no more mail from this list.")


def _raw_body(request) -> bytes:
    return tenanthttp.body(request, MAX_BODY)


def _body(request, kind: type):
    """The JSON body as kind; TenantError 400 with what is wrong."""
    data = _raw_body(request)
    try:
        text = data.decode("utf-8")  # RFC 8259 8.1
    except UnicodeDecodeError:
        raise TenantError(400, "bad_request", "the body is not UTF-8") from None
    if not text.strip():
        raise TenantError(400, "bad_request", "a JSON object is required as the body")
    try:
        return msgspec.json.decode(text, type=kind)
    except msgspec.ValidationError as e:
        raise TenantError(400, "bad_request", f"invalid request: {e}") from None
    except msgspec.DecodeError as e:
        raise TenantError(400, "bad_request", f"malformed JSON: {e}") from None


def _query(request) -> dict[str, str]:
    """The query's parameters, the last of each name."""
    _, _, query = request.uri.partition(b"?")
    try:
        fields = urllib.parse.parse_qs(query.decode("utf-8"), errors="strict")
    except UnicodeDecodeError:
        raise TenantError(400, "bad_request", "the query is not UTF-8") from None
    return {name: values[-1] for name, values in fields.items()}


def _list_id(text: str) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise TenantError(400, "bad_request", "list_id: a list's ID, a number, is required")
    return int(text)


def _one_click_body(request) -> bool:
    """Whether the body is RFC 8058 3.2's List-Unsubscribe=One-Click, in one of the two form encodings."""
    data = _raw_body(request)
    content_type = (request.getHeader(b"content-type") or b"").decode("latin-1")
    from multipart import MultipartError, MultipartParser, parse_options_header

    mediatype, options = parse_options_header(content_type)
    if mediatype == "multipart/form-data" and options.get("boundary"):
        import io

        try:
            return any(part.name == "List-Unsubscribe" and part.value.strip() == "One-Click"
                       for part in MultipartParser(io.BytesIO(data), options["boundary"], part_limit=10))
        except (MultipartError, UnicodeDecodeError):
            return False
    try:
        fields = urllib.parse.parse_qs(data.decode("utf-8"), errors="strict")
    except UnicodeDecodeError:
        return False
    return [v.strip() for v in fields.get("List-Unsubscribe", [])] == ["One-Click"]


def _member_answer(member) -> dict:
    return {"list_id": member.list_id, "email": member.email, "status": member.status,
            "preferences": member.preferences}


def _link_problem(e: MemberError) -> str:
    if e.kind == MemberError.TOKEN_EXPIRED:
        return "This link has expired. Subscribe again to get a new one."
    if e.kind == MemberError.TOKEN_USED:
        return "This link was used already: the subscription is confirmed, or changed since the message was sent."
    return "This link is not valid. Copy the whole link from the message into the address bar."


def _json(request, status: int, value) -> int:
    return tenanthttp.answer(request, status, value)


def _page(request, status: int, template: str, **args) -> int:
    # The links carry their token in the URL: no referrer, no framing (a hidden frame could take the
    # click of the one-click button), no scripts.
    request.setHeader(b"Referrer-Policy", b"no-referrer")
    request.setHeader(b"X-Frame-Options", b"DENY")
    request.setHeader(b"Content-Security-Policy",
                      b"default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
    body = _templates().get_template(template).render(**args).encode()
    return tenanthttp.finish(request, status, b"text/html; charset=utf-8", body)

"""A token request of the client credentials grant read from its HTTP
method, headers and body, and the error answers of RFC 6749 5.2, without
any I/O: resource.py feeds it what arrived and sends what it returns.

The client authenticates either with HTTP basic auth, its id and secret
each form-urlencoded first (RFC 6749 2.3.1), or with client_id and
client_secret in the body; never both at once (2.3).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import urllib.parse
from dataclasses import dataclass

GRANT_TYPE = "client_credentials"  # RFC 6749 4.4.2
FORM = "application/x-www-form-urlencoded"
MAX_BODY = 16 * 1024  # a token request is a few short parameters
PARAMETERS = ("grant_type", "scope", "client_id", "client_secret")
CHALLENGE = 'Basic realm="oauth"'
_BAD_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")


class OAuthError(Exception):
    """An RFC 6749 5.2 error answer: error is the code for programs, description the sentence for people.
    challenge: answered 401 with WWW-Authenticate, for a client that used (or should use) basic auth.
    client_id: of the client refused, once it authenticated (for the log)."""

    def __init__(self, error: str, description: str, status: int = 400, challenge: bool = False,
                 client_id: str = ""):
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = 401 if challenge else status
        self.challenge = challenge
        self.client_id = client_id

    def body(self) -> bytes:
        return json.dumps({"error": self.error, "error_description": self.description}).encode()


@dataclass
class TokenRequest:
    client_id: str
    client_secret: str
    scope: str  # as sent, space-separated; "" for all of the client's scopes
    basic: bool  # the client authenticated with basic auth


def parse(method: str, content_type: str, body: bytes, authorization: str) -> TokenRequest:
    """The token request, or OAuthError for a malformed one, a grant type other than client_credentials,
    or a request without client credentials. The credentials themselves are not checked here."""
    if method != "POST":
        # RFC 6749 3.2: the token endpoint takes POST only.
        raise OAuthError("invalid_request", "the token endpoint takes POST only", status=405)
    if content_type.split(";")[0].strip().lower() != FORM:
        raise OAuthError("invalid_request", f"the request must be a form, content-type {FORM}")
    if len(body) > MAX_BODY:
        raise OAuthError("invalid_request", f"request body larger than {MAX_BODY} bytes")
    fields = _form(body)
    basic = _basic(authorization)
    grant_type = fields.get("grant_type", "")
    if not grant_type:
        raise OAuthError("invalid_request", "missing parameter grant_type")
    if grant_type != GRANT_TYPE:
        raise OAuthError("unsupported_grant_type", f"grant_type {grant_type!r} is not supported; use {GRANT_TYPE}")
    if basic is not None:
        client_id, secret = basic
        if "client_secret" in fields:
            raise OAuthError("invalid_request", "client credentials both in basic auth and in the body; use one")
        if fields.get("client_id", client_id) != client_id:
            raise OAuthError("invalid_request", "client_id in the body differs from the one in basic auth")
    else:
        client_id, secret = fields.get("client_id", ""), fields.get("client_secret", "")
        if not client_id and not secret:
            raise OAuthError("invalid_client", "client authentication required: basic auth with client id "
                             "and secret, or client_id and client_secret in the body", challenge=True)
        if not client_id or not secret:
            raise OAuthError("invalid_client", "client_id and client_secret go together")
    return TokenRequest(client_id=client_id, client_secret=secret, scope=fields.get("scope", ""),
                        basic=basic is not None)


def _form(body: bytes) -> dict[str, str]:
    # Python's parser keeps a malformed %-escape as text; it is an error here, as in the webapi's forms.
    if _BAD_ESCAPE.search(body):
        raise OAuthError("invalid_request", "the body is not a valid form: malformed %-escape")
    try:
        pairs = urllib.parse.parse_qsl(body.decode("ascii"), keep_blank_values=True, strict_parsing=bool(body),
                                       errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise OAuthError("invalid_request", "the body is not a valid form") from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name in fields and name in PARAMETERS:
            # RFC 6749 3.1: parameters must not be included more than once.
            raise OAuthError("invalid_request", f"parameter {name} given more than once")
        fields[name] = value
    return fields


def _basic(authorization: str) -> tuple[str, str] | None:
    """The client id and secret of a basic auth header, None without an Authorization header."""
    if not authorization:
        return None
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        raise OAuthError("invalid_client", f"authentication scheme {scheme!r} is not supported; use basic",
                         challenge=True)
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthError("invalid_client", "malformed basic auth", challenge=True) from None
    client_id, colon, secret = decoded.partition(":")
    if not colon or not client_id:
        raise OAuthError("invalid_client", "malformed basic auth: no client id and secret", challenge=True)
    # RFC 6749 2.3.1: both are form-urlencoded before they are joined.
    try:
        return (urllib.parse.unquote_plus(client_id, errors="strict"),
                urllib.parse.unquote_plus(secret, errors="strict"))
    except UnicodeDecodeError:
        raise OAuthError("invalid_client", "malformed basic auth", challenge=True) from None

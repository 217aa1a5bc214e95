"""Reading token requests, granting scopes, and the signing keys over a real
mox.db, without a server."""

from __future__ import annotations

import asyncio
import base64
import urllib.parse

import pytest
from joserfc.jwk import ECKey

from moxpy.oauth import clients, keys
from moxpy.oauth.grant import OAuthError, parse

from ..serverdbhelp import open_server_database

FORM = "application/x-www-form-urlencoded"


def basic(client_id: str, secret: str) -> str:
    # RFC 6749 2.3.1: each part form-urlencoded, then joined and base64-encoded.
    joined = f"{urllib.parse.quote_plus(client_id)}:{urllib.parse.quote_plus(secret)}"
    return "Basic " + base64.b64encode(joined.encode()).decode()


def error(method="POST", content_type=FORM, body=b"grant_type=client_credentials", authorization="") -> OAuthError:
    with pytest.raises(OAuthError) as e:
        parse(method, content_type, body, authorization)
    return e.value


def test_basic_and_body_credentials():
    request = parse("POST", FORM + "; charset=utf-8", b"grant_type=client_credentials&scope=read+send",
                    basic("mxc_a", "s:e c+r%t"))
    assert (request.client_id, request.client_secret, request.scope, request.basic) == (
        "mxc_a", "s:e c+r%t", "read send", True)
    request = parse("POST", FORM, b"grant_type=client_credentials&client_id=mxc_b&client_secret=x%2By", "")
    assert (request.client_id, request.client_secret, request.scope, request.basic) == ("mxc_b", "x+y", "", False)
    # The id may be repeated in the body, if it is the same.
    assert parse("POST", FORM, b"grant_type=client_credentials&client_id=mxc_a", basic("mxc_a", "s")).basic


@pytest.mark.parametrize("kwargs, code, status", [
    (dict(method="GET"), "invalid_request", 405),
    (dict(content_type="application/json"), "invalid_request", 400),
    (dict(content_type=""), "invalid_request", 400),
    (dict(body=b"grant_type=client_credentials&scope=a&scope=b", authorization=basic("i", "s")), "invalid_request", 400),
    (dict(body=b"scope=read", authorization=basic("i", "s")), "invalid_request", 400),
    (dict(body=b"grant_type=password", authorization=basic("i", "s")), "unsupported_grant_type", 400),
    (dict(body=b"grant_type=%zz", authorization=basic("i", "s")), "invalid_request", 400),
    (dict(body="grant_type=client_credentials&scope=r\u00e9".encode()), "invalid_request", 400),
    (dict(body=b"grant_type=client_credentials&x=" + b"a" * 20000), "invalid_request", 400),
    (dict(), "invalid_client", 401),
    (dict(body=b"grant_type=client_credentials&client_id=mxc_a"), "invalid_client", 400),
    (dict(body=b"grant_type=client_credentials&client_secret=s", authorization=basic("i", "s")), "invalid_request", 400),
    (dict(body=b"grant_type=client_credentials&client_id=mxc_other", authorization=basic("i", "s")),
     "invalid_request", 400),
    (dict(authorization="Bearer x"), "invalid_client", 401),
    (dict(authorization="Basic not-base64"), "invalid_client", 401),
    (dict(authorization="Basic " + base64.b64encode(b"no colon").decode()), "invalid_client", 401),
])
def test_errors(kwargs, code, status):
    e = error(**kwargs)
    assert (e.error, e.status) == (code, status)
    assert e.challenge == (status == 401)
    assert e.description and e.error.encode() in e.body()


def test_scopes_granted():
    assert clients.grant("", ["send", "read"]) == ["send", "read"]
    assert clients.grant("read", ["send", "read"]) == ["read"]
    assert clients.grant(" read  send read ", ["read", "send"]) == ["send", "read"]
    for requested in ("modify", "read modify", "everything", "Read"):
        with pytest.raises(clients.ScopeError):
            clients.grant(requested, ["send", "read"])


def test_key_ids_are_rfc_7638_thumbprints():
    key = keys.new_key()
    from cryptography.hazmat.primitives import serialization

    private = serialization.load_pem_private_key(key.private_pem, None)
    jwk = keys._jwk_fields(private.public_key())
    assert ECKey.import_key(jwk).thumbprint() == key.kid == keys.thumbprint(jwk)


def test_the_first_key_is_made_once_and_rotation_keeps_the_old_one_until_its_tokens_expired(tmp_path, storage):
    db = open_server_database(tmp_path, storage)
    try:
        ring = keys.KeyRing(db.signing_keys)
        assert ring.jwks(3600) == {"keys": []}

        async def first_two():
            return await asyncio.gather(ring.signing_key(3600), keys.KeyRing(db.signing_keys).signing_key(3600))

        (kid, _), (kid2, _) = asyncio.run(first_two())
        assert kid == kid2 and len(db.signing_keys.keys()) == 1
        new = keys.new_key()
        asyncio.run(db.signing_keys.rotate(new, 1000.0))  # retired long ago
        assert [k.kid for k in db.signing_keys.keys()] == [new.kid, kid]
        # A ring that has read the keys sees the retirement at its next refresh; a new one at once.
        ring = keys.KeyRing(db.signing_keys)
        assert ring.public_key(kid, 3600) is None  # past retirement + lifetime
        assert ring.public_key(new.kid, 3600) is not None
        assert [k["kid"] for k in ring.jwks(3600)["keys"]] == [new.kid]
        assert asyncio.run(ring.signing_key(3600))[0] == new.kid
        assert [k.kid for k in db.signing_keys.keys()] == [new.kid]  # dropped on the way
    finally:
        db.close()


def test_client_secrets_are_checked(tmp_path, storage):
    db = open_server_database(tmp_path, storage)
    try:
        record, secret = asyncio.run(clients.create(db.oauth_clients, "mox", ["read"], "n"))
        assert clients.authenticate(db.oauth_clients, record.id, secret).account == "mox"
        for client_id, attempt in ((record.id, secret + "x"), ("mxc_none", secret), ("nope", secret)):
            with pytest.raises(clients.ClientError):
                clients.authenticate(db.oauth_clients, client_id, attempt)
        assert asyncio.run(db.oauth_clients.remove(record.id, 5.0))
        assert asyncio.run(db.oauth_clients.remove(record.id, 9.0))
        assert db.oauth_clients.get(record.id).removed == 5.0
        with pytest.raises(clients.ClientError):
            clients.authenticate(db.oauth_clients, record.id, secret)
        assert not asyncio.run(db.oauth_clients.remove("mxc_none", 5.0))
    finally:
        db.close()

"""OAuth client credentials over the real listener: clients made with
`mox.py client add`, access tokens from POST /oauth/token used on the
webapi, the RFC 6749 errors, the tokens checked by an independent JOSE
library (joserfc) against /.well-known/jwks.json, forged, expired and
revoked tokens, key rotation and the throttle."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import os
import subprocess
import sys
import time

import httpx
import pytest
from joserfc import jwt as josejwt
from joserfc.jwk import ECKey, KeySet

from ..localserve import ROOT
from ..serverdbhelp import execute

# Each test that fails client authentication does so from a loopback address in its own /21, so the
# failures of one never throttle another (the throttle counts per address, /26 and /21).
_SOURCES = (f"127.{8 * n}.0.1" for n in itertools.count(1))


def mox(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, os.path.join(ROOT, "mox.py"), *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)


def add_client(server, scopes: str, account: str = "mox") -> tuple[str, str]:
    out = mox("client", "add", account, "-scope", scopes, "-name", "test", "-config", server.config.path)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    return lines[0], lines[-1]


def root(server) -> str:
    return f"http://127.0.0.1:{server.ports['WebAPIHTTP']}"


def token_request(server, data: dict | None = None, auth: tuple[str, str] | None = None, source: str = "127.0.0.1",
                  **kwargs) -> httpx.Response:
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(transport=transport, timeout=30) as c:
        return c.post(root(server) + "/oauth/token", data=data, auth=auth, **kwargs)


def get_token(server, client: tuple[str, str], scope: str = "") -> dict:
    data = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
    response = token_request(server, data, auth=client)
    assert response.status_code == 200, response.text
    return response.json()


def call(server, token: str, method: str, request: dict | None = None, source: str = "127.0.0.1") -> httpx.Response:
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(transport=transport, timeout=30) as c:
        return c.post(server.base_url + method, data={"request": json.dumps(request or {})},
                      headers={"Authorization": f"Bearer {token}"})


def jwks(server) -> dict:
    response = httpx.get(root(server) + "/.well-known/jwks.json", timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def error_of(response: httpx.Response) -> str:
    assert response.headers["content-type"].startswith("application/json"), response.text
    body = response.json()
    assert set(body) == {"error", "error_description"} and body["error_description"], body
    return body["error"]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def parts(token: str) -> tuple[dict, dict, str]:
    header, payload, signature = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return (json.loads(base64.urlsafe_b64decode(pad(header))), json.loads(base64.urlsafe_b64decode(pad(payload))),
            signature)


@pytest.fixture(scope="module")
def client(server) -> tuple[str, str]:
    return add_client(server, "read,send")


def test_client_add_prints_id_then_secret_and_keeps_only_its_hash(server):
    out = mox("client", "add", "mox", "-scope", "read", "-name", "billing", "-config", server.config.path)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    client_id, secret = lines[0], lines[-1]
    assert client_id.startswith("mxc_") and secret.startswith("mxs_") and len(secret) == 47
    listed = mox("client", "list", "-config", server.config.path)
    assert listed.returncode == 0 and f"{client_id}\tmox\tread\t" in listed.stdout
    assert "\tactive\tbilling" in listed.stdout and "mxs_" not in listed.stdout
    [row] = execute(server.config, "select * from oauth_clients where id = ?", (client_id,))
    assert hashlib.sha256(secret.encode()).digest() in row
    assert not any(secret in str(v) for v in row)


def test_a_token_works_for_its_scopes_and_no_other(server, client):
    answer = get_token(server, client)
    assert answer["token_type"] == "Bearer" and answer["expires_in"] == 3600
    assert answer["scope"] == "send read"
    token = answer["access_token"]
    assert call(server, token, "MailboxList").status_code == 200
    sent = call(server, token, "Send", {"To": [{"Address": "mox@localhost"}], "Subject": "by oauth", "Text": "hi"})
    assert sent.status_code == 200, sent.text
    for method in ("MailboxCreate", "SuppressionList", "MessageRawGet", "TokenList", "AccountExists"):
        response = call(server, token, method, {"Name": "x"})
        assert response.status_code == 403 and response.json()["Code"] == "permissionDenied", (method, response.text)


def test_a_narrower_scope_gets_a_narrower_token(server, client):
    answer = get_token(server, client, scope="read")
    assert answer["scope"] == "read"
    token = answer["access_token"]
    assert call(server, token, "MailboxList").status_code == 200
    assert call(server, token, "Send", {"To": [{"Address": "mox@localhost"}], "Text": "x"}).status_code == 403


def test_the_answer_is_not_cached_and_body_credentials_work_too(server, client):
    response = token_request(server, {"grant_type": "client_credentials", "client_id": client[0],
                                      "client_secret": client[1], "scope": "send"})
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store" and response.headers["pragma"] == "no-cache"
    assert response.headers["content-type"].startswith("application/json")
    assert set(response.json()) == {"access_token", "token_type", "expires_in", "scope"}
    assert response.json()["scope"] == "send"


def test_wrong_secret_and_unknown_client(server, client):
    source = next(_SOURCES)
    client_id, secret = client
    # Basic auth: 401 with a challenge (RFC 6749 5.2).
    response = token_request(server, {"grant_type": "client_credentials"}, auth=(client_id, secret + "x"),
                             source=source)
    assert response.status_code == 401 and error_of(response) == "invalid_client"
    assert response.headers["www-authenticate"].lower().startswith("basic")
    assert response.headers["cache-control"] == "no-store"
    response = token_request(server, {"grant_type": "client_credentials"}, auth=("mxc_nosuchclient", secret),
                             source=source)
    assert response.status_code == 401 and error_of(response) == "invalid_client"
    # In the body: 400, no challenge.
    response = token_request(server, {"grant_type": "client_credentials", "client_id": client_id,
                                      "client_secret": "mxs_wrong"}, source=source)
    assert response.status_code == 400 and error_of(response) == "invalid_client"
    assert "www-authenticate" not in response.headers
    # The secret of another client does not do either.
    other = add_client(server, "read")
    response = token_request(server, {"grant_type": "client_credentials"}, auth=(client_id, other[1]), source=source)
    assert response.status_code == 401 and error_of(response) == "invalid_client"


def test_malformed_requests_get_rfc_6749_errors(server, client):
    client_id, secret = client
    good = {"grant_type": "client_credentials"}
    cases = [
        (dict(data={"grant_type": "password", "username": "u", "password": "p"}, auth=client), 400,
         "unsupported_grant_type"),
        (dict(data={"grant_type": "authorization_code", "code": "x"}, auth=client), 400, "unsupported_grant_type"),
        (dict(data={"scope": "read"}, auth=client), 400, "invalid_request"),  # no grant_type
        (dict(data=good), 401, "invalid_client"),  # no client authentication at all
        (dict(data={**good, "client_id": client_id}), 400, "invalid_client"),  # id without secret
        (dict(data={**good, "client_secret": secret}, auth=client), 400, "invalid_request"),  # two methods
        (dict(content=b"grant_type=client_credentials&grant_type=client_credentials", auth=client,
              headers={"Content-Type": "application/x-www-form-urlencoded"}), 400, "invalid_request"),
        (dict(json=good, auth=client), 400, "invalid_request"),  # not a form
        (dict(content=b"grant_type=%zz", auth=client,
              headers={"Content-Type": "application/x-www-form-urlencoded"}), 400, "invalid_request"),
        (dict(data=good, headers={"Authorization": "Bearer abc"}), 401, "invalid_client"),
        (dict(data=good, headers={"Authorization": "Basic !!!"}), 401, "invalid_client"),
    ]
    for kwargs, status, error in cases:
        response = token_request(server, **kwargs)
        assert (response.status_code, error_of(response)) == (status, error), (kwargs, response.text)
        assert "Traceback" not in response.text
    # RFC 6749 3.2: POST only.
    response = httpx.get(root(server) + "/oauth/token", timeout=30)
    assert response.status_code == 405 and error_of(response) == "invalid_request"
    assert response.headers["allow"] == "POST"
    response = httpx.put(root(server) + "/oauth/token", auth=client, data=good, timeout=30)
    assert response.status_code == 405 and error_of(response) == "invalid_request"


def test_excess_and_unknown_scopes_are_refused_not_narrowed(server, client):
    for scope in ("modify", "read modify", "admin", "read everything"):
        response = token_request(server, {"grant_type": "client_credentials", "scope": scope}, auth=client)
        assert response.status_code == 400 and error_of(response) == "invalid_scope", (scope, response.text)
    # An operator may give a client admin; such a client's token administers.
    admin = add_client(server, "admin")
    token = get_token(server, admin)["access_token"]
    assert call(server, token, "AccountExists", {"Name": "mox"}).json() == {"Found": True}
    assert call(server, token, "MailboxList").status_code == 403


def test_an_independent_library_verifies_the_token_against_the_published_keys(server, client):
    answer = get_token(server, client)
    keys = jwks(server)
    response = httpx.get(root(server) + "/.well-known/jwks.json", timeout=30)
    assert "max-age=" in response.headers["cache-control"]
    for key in keys["keys"]:
        assert {"kid", "kty", "crv", "x", "y", "use", "alg"} <= set(key) and "d" not in key
        assert (key["kty"], key["crv"], key["use"], key["alg"]) == ("EC", "P-256", "sig", "ES256")
        # The key id is the key's own thumbprint (RFC 7638).
        assert ECKey.import_key({k: key[k] for k in ("kty", "crv", "x", "y")}).thumbprint() == key["kid"]
    decoded = josejwt.decode(answer["access_token"], KeySet.import_key_set(keys), algorithms=["ES256"])
    header, claims = decoded.header, decoded.claims
    assert header["typ"] == "at+jwt" and header["alg"] == "ES256" and header["kid"] in {k["kid"] for k in keys["keys"]}
    josejwt.JWTClaimsRegistry(iss={"essential": True, "value": "https://localhost"},
                              aud={"essential": True, "value": "https://localhost/webapi"},
                              sub={"essential": True, "value": client[0]},
                              exp={"essential": True}, iat={"essential": True}, jti={"essential": True},
                              ).validate(claims)
    assert claims["client_id"] == client[0] and claims["tenant"] == "mox" and claims["scope"] == "send read"
    assert claims["exp"] - claims["iat"] == answer["expires_in"] == 3600
    assert abs(claims["iat"] - time.time()) < 60
    assert get_token(server, client)["access_token"] != answer["access_token"]


def test_forged_tokens_are_refused(server, client):
    source = next(_SOURCES)
    token = get_token(server, client)["access_token"]
    header, claims, signature = parts(token)
    raw_header, raw_claims, _ = token.split(".")
    more = b64(json.dumps({**claims, "scope": "send read modify"}).encode())
    other_key = ECKey.generate_key("P-256")
    forged = {
        "tampered": f"{raw_header}.{more}.{signature}",
        "alg none": f"{b64(json.dumps({**header, 'alg': 'none'}).encode())}.{more}.",
        "another key, our kid": josejwt.encode(header, {**claims, "scope": "send read modify"}, other_key),
        "another key, its own kid": josejwt.encode({**header, "kid": other_key.thumbprint()}, claims, other_key),
        "signature cut": f"{raw_header}.{raw_claims}.",
        "not base64": "a.b.c",
    }
    for name, bad in forged.items():
        response = call(server, bad, "MailboxCreate" if "modify" in name else "MailboxList", {"Name": "Forged"},
                        source=source)
        assert response.status_code == 401, (name, response.text)
        assert 'error="invalid_token"' in response.headers["www-authenticate"], name
        assert "Traceback" not in response.text
    assert call(server, token, "MailboxList", source=source).status_code == 200


def test_a_token_signed_with_hs256_and_the_public_key_is_refused(server, client):
    # The classic confusion of algorithms: the published key used as an HMAC secret.
    import hmac

    source = next(_SOURCES)
    token = get_token(server, client)["access_token"]
    header, claims, _ = parts(token)
    key = next(k for k in jwks(server)["keys"] if k["kid"] == header["kid"])
    signing_input = f"{b64(json.dumps({**header, 'alg': 'HS256'}).encode())}.{b64(json.dumps(claims).encode())}"
    mac = hmac.new(json.dumps(key).encode(), signing_input.encode(), hashlib.sha256).digest()
    assert call(server, f"{signing_input}.{b64(mac)}", "MailboxList", source=source).status_code == 401


def test_a_removed_client_s_tokens_stop_at_once(server):
    source = next(_SOURCES)
    removed = add_client(server, "read")
    token = get_token(server, removed)["access_token"]
    assert call(server, token, "MailboxList", source=source).status_code == 200
    out = mox("client", "remove", removed[0], "-config", server.config.path)
    assert out.returncode == 0, out.stderr
    assert call(server, token, "MailboxList", source=source).status_code == 401
    response = token_request(server, {"grant_type": "client_credentials"}, auth=removed, source=source)
    assert response.status_code == 401 and error_of(response) == "invalid_client"
    assert "\tremoved\t" in mox("client", "list", "mox", "-config", server.config.path).stdout


def test_a_removed_account_s_clients_get_no_tokens_and_their_tokens_stop(server):
    source = next(_SOURCES)
    out = mox("account", "add", "gone", "gone@localhost", "-password", "gonegonegone", "-config", server.config.path)
    assert out.returncode == 0, out.stderr
    gone = add_client(server, "read", account="gone")
    token = server.wait_for(lambda: token_request(server, {"grant_type": "client_credentials"}, auth=gone)
                            .json().get("access_token"))
    assert call(server, token, "MailboxList", source=source).status_code == 200
    assert mox("account", "del", "gone", "-config", server.config.path).returncode == 0
    server.wait_for(lambda: call(server, token, "MailboxList", source=source).status_code == 401)
    response = token_request(server, {"grant_type": "client_credentials"}, auth=gone, source=source)
    assert response.status_code == 400 and error_of(response) == "unauthorized_client"


def test_key_rotation_keeps_old_tokens_working_and_signs_new_ones_with_the_new_key(server, client):
    old = get_token(server, client)["access_token"]
    old_kid = parts(old)[0]["kid"]
    out = mox("client", "rotatekey", "-config", server.config.path)
    assert out.returncode == 0, out.stderr
    assert f"{old_kid} retired" in out.stdout
    new = get_token(server, client)["access_token"]
    new_kid = parts(new)[0]["kid"]
    assert new_kid != old_kid and new_kid in out.stdout
    keys = jwks(server)
    assert [k["kid"] for k in keys["keys"]] == [new_kid, old_kid]
    for token in (old, new):
        assert call(server, token, "MailboxList").status_code == 200
        josejwt.decode(token, KeySet.import_key_set(keys), algorithms=["ES256"])


def test_repeated_bad_secrets_are_throttled(server, client):
    source = next(_SOURCES)
    bad = {"grant_type": "client_credentials", "client_id": client[0], "client_secret": "mxs_guess"}
    codes = [token_request(server, bad, source=source).status_code for _ in range(10)]
    assert codes == [400] * 10
    # Past the limit even the right secret is refused unchecked, as is the account's password elsewhere.
    response = token_request(server, {"grant_type": "client_credentials"}, auth=client, source=source)
    assert response.status_code == 429 and error_of(response) == "temporarily_unavailable"
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(transport=transport, auth=("mox@localhost", "moxmoxmox"), timeout=30) as c:
        assert c.post(server.base_url + "MailboxList", data={"request": "{}"}).status_code == 429
    # Other addresses are not held up.
    assert get_token(server, client)["access_token"]


def test_the_cli_refuses_bad_arguments_in_one_line(server):
    config = server.config.path
    for args, fragment in ((("client", "add", "mox", "-scope", "read,bogus"), "unknown scope"),
                           (("client", "add", "nobody", "-scope", "read"), "no account"),
                           (("client", "remove", "mxc_nosuch"), "no client")):
        out = mox(*args, "-config", config)
        assert out.returncode == 1, (args, out.stdout, out.stderr)
        assert len(out.stderr.splitlines()) == 1 and fragment in out.stderr, (args, out.stderr)
    out = mox("client", "add", "mox", "-config", config)  # no -scope
    assert out.returncode == 2 and len(out.stderr.splitlines()) == 1


def test_no_secret_or_token_reaches_the_server_output(server):
    client_id, secret = add_client(server, "read")
    answer = token_request(server, {"grant_type": "client_credentials", "client_id": client_id,
                                    "client_secret": secret})
    token = answer.json()["access_token"]
    assert call(server, token, "MailboxList").status_code == 200
    wrong = "mxs_MISTYPED-SECRET-4471"
    source = next(_SOURCES)
    token_request(server, {"grant_type": "client_credentials", "client_id": client_id, "client_secret": wrong},
                  source=source)
    token_request(server, {"grant_type": "client_credentials", "client_id": wrong, "client_secret": wrong},
                  source=source)
    call(server, token[:-4] + "AAAA", "MailboxList", source=source)
    time.sleep(0.3)  # the last lines of output reach the reader
    output = "".join(server.output)
    assert f"client={client_id}" in output  # the requests were logged
    for leaked in (secret, wrong, token, token.split(".")[2]):
        assert leaked not in output


@pytest.mark.slow
def test_tokens_expire_and_a_retired_key_is_dropped_after_its_last_token(new_server):
    def configure(config):
        config.OAuth.TokenLifetime = 1.0

    srv = new_server(configure).start()
    client = add_client(srv, "read")
    answer = get_token(srv, client)
    assert answer["expires_in"] == 1
    token = answer["access_token"]
    assert call(srv, token, "MailboxList").status_code == 200
    out = mox("client", "rotatekey", "-config", srv.config.path)
    assert out.returncode == 0, out.stderr
    new = get_token(srv, client)["access_token"]
    assert len(jwks(srv)["keys"]) == 2
    # Past the expiry and the few seconds of leeway for clocks.
    time.sleep(1 + 5 + 1.5)
    for expired in (token, new):
        response = call(srv, expired, "MailboxList")
        assert response.status_code == 401, response.text
    assert "access token expired" in "".join(srv.output)
    assert [k["kid"] for k in jwks(srv)["keys"]] == [parts(new)[0]["kid"]]
    # Dropped from the database too, once a token is issued.
    get_token(srv, client)
    assert execute(srv.config, "select count(*) from oauth_keys") == [(1,)]


def test_the_openapi_document_describes_the_client_credentials_flow(server, client):
    openapi = httpx.get(server.base_url + "openapi.json", timeout=30).json()
    flow = openapi["components"]["securitySchemes"]["oauth"]["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == "/oauth/token" and "read.body" in flow["scopes"]
    assert {"oauth": ["send"]} in openapi["paths"]["/webapi/v0/Send"]["post"]["security"]
    # The URL it names works relative to the server's.
    token = httpx.post(root(server) + flow["tokenUrl"], data={"grant_type": "client_credentials"}, auth=client,
                       timeout=30)
    assert token.status_code == 200 and call(server, token.json()["access_token"], "MailboxList").status_code == 200

"""The member endpoints of mailing lists over the real listener: double opt-in from subscribing to the
confirmation mail read over IMAP and its link, single-use and expired links, resending, preferences,
unsubscribing by token and in one click (RFC 8058), tenants kept apart, scopes, hostile input and the
rate per address."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time

import httpx
import pytest

from moxpy.newsletter.signing import CONFIRM, UNSUBSCRIBE, Signer

from ..localserve import ADDRESS, PASSWORD, ROOT
from ..serverdbhelp import execute
from .helpers import (OTHER, OTHER_PASSWORD, Endpoints, confirm_link, confirmations, error, members, new_list, ok,
                      other_account, root, token, wait_confirmations)


@pytest.fixture(scope="module")
def tenant(server):
    """The member endpoints with a token of scope newsletter:members of the mox account."""
    endpoints = Endpoints(server, token(server, ["newsletter:members"]))
    yield endpoints
    endpoints.close()


@pytest.fixture(scope="module")
def news(server) -> int:
    return new_list(server, "Mox news", ConfirmSubject="Confirm Mox news",
                    ConfirmText="Click below to get Mox news <b>weekly</b>.")


def subscribe(tenant, list_id: int, address: str, preferences=None) -> dict:
    body = {"list_id": list_id, "email": address}
    if preferences is not None:
        body["preferences"] = preferences
    return ok(tenant.post("subscribe", body))


def test_subscribe_confirm_by_the_mailed_link(server, tenant, news):
    answer = subscribe(tenant, news, "Reader1@Example.ORG", {"lang": "nl"})
    assert answer["status"] == "pending" and answer["confirm_token"]
    assert members(server, news) == {"Reader1@example.org": "pending"}

    [message] = wait_confirmations(server, "Reader1@example.org")
    assert message["Subject"] == "Confirm Mox news"
    assert message["From"].addresses[0].addr_spec == "mox+news@localhost"
    assert message["From"].addresses[0].display_name == "Mox news"
    assert message["DKIM-Signature"] is not None  # through the queue, as Send: signed for localhost
    assert "Click below to get Mox news <b>weekly</b>." in message.get_body(("plain",)).get_content()
    link = confirm_link(message)
    assert link.startswith(f"http://localhost:{server.ports['WebAPIHTTP']}/newsletter/confirm?token=")

    page = httpx.get(link.replace("localhost", "127.0.0.1", 1), timeout=30)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Subscription confirmed" in page.text and "Mox news" in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    assert members(server, news, "confirmed") == {"Reader1@example.org": "confirmed"}

    # Single use: the same link again is an error page, and the member stays confirmed.
    again = httpx.get(link.replace("localhost", "127.0.0.1", 1), timeout=30)
    assert again.status_code == 400 and "used already" in again.text
    assert members(server, news) == {"Reader1@example.org": "confirmed"}

    # Subscribing a confirmed address changes nothing and sends nothing.
    assert subscribe(tenant, news, "reader1@example.org", {"lang": "en"}) == {"status": "confirmed",
                                                                              "confirm_token": None}
    assert ok(tenant.get("preferences", list_id=news, email="reader1@example.org"))["preferences"] == {"lang": "nl"}
    time.sleep(0.5)
    assert len(confirmations(server, "Reader1@example.org")) == 1
    # The calls are logged, the tokens in them are not.
    log = "".join(server.output)
    assert "newsletter POST /newsletter/subscribe account=mox" in log
    assert answer["confirm_token"] not in log and link.split("token=")[1] not in log


def test_list_texts_are_escaped_in_the_page(server, tenant):
    list_id = new_list(server, "<script>alert(1)</script>")
    answer = subscribe(tenant, list_id, "escaped@example.org")
    page = httpx.get(f"{root(server)}/newsletter/confirm", params={"token": answer["confirm_token"]}, timeout=30)
    assert page.status_code == 200
    assert "<script>" not in page.text and "&lt;script&gt;" in page.text


def test_expired_and_forged_confirmation_links_are_refused(server, tenant, news):
    answer = subscribe(tenant, news, "late@example.org")
    signer = Signer(server.config.data_dir())
    nonce = json.loads(base64.urlsafe_b64decode(answer["confirm_token"].split(".")[1] + "=="))["non"]
    expired = signer.sign(CONFIRM, news, "late@example.org", 3600, nonce=nonce, now=time.time() - 7200)
    page = httpx.get(f"{root(server)}/newsletter/confirm", params={"token": expired}, timeout=30)
    assert page.status_code == 400 and "expired" in page.text
    # An unsubscribe token is of another purpose; a token with the nonce changed is not signed by us.
    other_purpose = signer.sign(UNSUBSCRIBE, news, "late@example.org", 3600)
    header, claims, signature = answer["confirm_token"].split(".")
    forged_claims = base64.urlsafe_b64encode(json.dumps(
        {**json.loads(base64.urlsafe_b64decode(claims + "==")), "sub": "victim@example.org"}).encode()).rstrip(b"=")
    none_header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    for bad in (other_purpose, f"{header}.{forged_claims.decode()}.{signature}", f"{none_header}.{claims}.",
                "", "x" * 5000, "a.b.c", "\u00e9t\u00e9"):
        page = httpx.get(f"{root(server)}/newsletter/confirm", params={"token": bad}, timeout=30)
        assert page.status_code == 400 and "not valid" in page.text, bad[:40]
        assert page.headers["content-type"].startswith("text/html")
    assert members(server, news)["late@example.org"] == "pending"
    # The real link still works.
    page = httpx.get(f"{root(server)}/newsletter/confirm", params={"token": answer["confirm_token"]}, timeout=30)
    assert page.status_code == 200


def test_subscribing_again_while_pending_resends_at_most_every_ten_minutes(server, tenant, news):
    first = subscribe(tenant, news, "twice@example.org")
    second = subscribe(tenant, news, "twice@example.org", {"topic": "releases"})
    assert second["status"] == "pending"
    wait_confirmations(server, "twice@example.org")
    time.sleep(0.5)
    assert len(confirmations(server, "twice@example.org")) == 1
    # Both tokens are of the same subscription: the first message's link still confirms it, once.
    page = httpx.get(f"{root(server)}/newsletter/confirm", params={"token": first["confirm_token"]}, timeout=30)
    assert page.status_code == 200
    page = httpx.get(f"{root(server)}/newsletter/confirm", params={"token": second["confirm_token"]}, timeout=30)
    assert page.status_code == 400
    assert ok(tenant.get("preferences", list_id=news, email="twice@example.org"))["preferences"] == {
        "topic": "releases"}


def test_preferences_round_trip_and_bounds(server, tenant, news):
    subscribe(tenant, news, "prefs@example.org", {"lang": "en"})
    answer = ok(tenant.post("preferences", {"list_id": news, "email": "PREFS@example.org",
                                            "preferences": {"lang": "de", "topics": "a,b"}}))
    assert answer == {"list_id": news, "email": "prefs@example.org", "status": "pending",
                      "preferences": {"lang": "de", "topics": "a,b"}}
    assert ok(tenant.get("preferences", list_id=news, email="prefs@example.org")) == answer
    for bad in ({"k": 1}, {"k": "v" * 1025}, {"": "v"}, {"k" * 65: "v"}, {f"k{i}": "v" for i in range(51)},
                ["lang"], "lang"):
        response = tenant.post("preferences", {"list_id": news, "email": "prefs@example.org", "preferences": bad})
        assert error(response, 400) == "bad_request", bad
    assert ok(tenant.get("preferences", list_id=news, email="prefs@example.org")) == answer
    assert error(tenant.get("preferences", list_id=news, email="nobody@example.org"), 404) == "member_not_found"
    assert error(tenant.get("preferences", list_id="x", email="prefs@example.org"), 400) == "bad_request"


def test_unsubscribe_token_and_unsubscribe(server, tenant, news):
    subscribe(tenant, news, "leaver@example.org")
    unsubscribe_token = ok(tenant.post("unsubscribe-token", {"list_id": news, "email": "leaver@example.org"}))[
        "unsubscribe_token"]
    assert ok(tenant.post("unsubscribe", {"token": unsubscribe_token})) == {"status": "unsubscribed"}
    assert members(server, news)["leaver@example.org"] == "unsubscribed"
    assert ok(tenant.post("unsubscribe", {"token": unsubscribe_token})) == {"status": "unsubscribed"}
    assert error(tenant.post("unsubscribe", {"token": "nonsense"}), 400) == "invalid_token"
    assert error(tenant.post("unsubscribe-token", {"list_id": news, "email": "stranger@example.org"}),
                 404) == "member_not_found"
    # Subscribing again is a new double opt-in, with a new message.
    assert subscribe(tenant, news, "leaver@example.org")["status"] == "pending"
    wait_confirmations(server, "leaver@example.org", 2)


def test_one_click_post_unsubscribes_and_get_does_not(server, tenant, news):
    answer = subscribe(tenant, news, "clicker@example.org")
    assert httpx.get(f"{root(server)}/newsletter/confirm", params={"token": answer["confirm_token"]},
                     timeout=30).status_code == 200
    unsubscribe_token = ok(tenant.post("unsubscribe-token", {"list_id": news, "email": "clicker@example.org"}))[
        "unsubscribe_token"]
    url = f"{root(server)}/newsletter/one-click"
    page = httpx.get(url, params={"token": unsubscribe_token}, timeout=30)
    assert page.status_code == 200 and '<form method="post"' in page.text
    assert 'name="List-Unsubscribe" value="One-Click"' in page.text and "clicker@example.org" in page.text
    assert page.headers["x-frame-options"] == "DENY"
    assert members(server, news)["clicker@example.org"] == "confirmed"
    # Without the RFC 8058 body, nothing happens.
    response = httpx.post(url, params={"token": unsubscribe_token}, timeout=30)
    assert error(response, 400) == "bad_request"
    assert members(server, news)["clicker@example.org"] == "confirmed"
    # No credential: the token is enough.
    response = httpx.post(url, params={"token": unsubscribe_token}, data={"List-Unsubscribe": "One-Click"},
                          timeout=30)
    assert response.status_code == 200
    assert members(server, news)["clicker@example.org"] == "unsubscribed"
    # As multipart/form-data too, and again: still 200.
    response = httpx.post(url, params={"token": unsubscribe_token}, files={"List-Unsubscribe": (None, "One-Click")},
                          timeout=30)
    assert response.status_code == 200
    assert error(httpx.post(url, params={"token": "bad"}, data={"List-Unsubscribe": "One-Click"}, timeout=30),
                 400) == "invalid_token"


def test_another_tenant_learns_nothing(server, tenant, news):
    subscribe(tenant, news, "private@example.org", {"secret": "yes"})
    other_account(server)
    bob = Endpoints(server, token(server, ["newsletter:members", "newsletter:lists"], user=OTHER,
                                  password=OTHER_PASSWORD))
    missing = 10 ** 9
    try:
        for list_id in (news, missing):
            for address in ("private@example.org", "nobody@example.org"):
                answers = [
                    bob.post("subscribe", {"list_id": list_id, "email": address}),
                    bob.post("unsubscribe-token", {"list_id": list_id, "email": address}),
                    bob.get("preferences", list_id=list_id, email=address),
                    bob.post("preferences", {"list_id": list_id, "email": address, "preferences": {}}),
                ]
                for response in answers:
                    assert error(response, 404) == "list_not_found"
                    assert response.json()["message"] == f"no list {list_id}"
        unsubscribe_token = ok(tenant.post("unsubscribe-token", {"list_id": news, "email": "private@example.org"}))[
            "unsubscribe_token"]
        assert error(bob.post("unsubscribe", {"token": unsubscribe_token}), 404) == "list_not_found"
        assert members(server, news)["private@example.org"] == "pending"
        # Over the webapi too: bob's lists do not include mox's, and mox's list is not found for bob.
        response = httpx.post(server.base_url + "ListMembers", data={"request": json.dumps({"ListID": news})},
                              auth=(OTHER, OTHER_PASSWORD), timeout=30)
        assert response.status_code == 400 and response.json()["Code"] == "listNotFound"
    finally:
        bob.close()
    # Basic auth with the account's password works as a token of every scope.
    with_password = Endpoints(server, auth=(ADDRESS, PASSWORD))
    try:
        assert ok(with_password.get("preferences", list_id=news, email="private@example.org"))["preferences"] == {
            "secret": "yes"}
    finally:
        with_password.close()


def test_credentials_and_scopes(server, news):
    send_only = Endpoints(server, token(server, ["send"]))
    lists_only = Endpoints(server, token(server, ["newsletter:lists"]))
    anonymous = Endpoints(server)
    bad = Endpoints(server, "mxt_" + "A" * 43, source="127.66.0.1")
    wrong_password = Endpoints(server, auth=(ADDRESS, "wrong"), source="127.66.8.1")
    calls = [("post", "subscribe", {"list_id": news, "email": "scope@example.org"}),
             ("post", "unsubscribe-token", {"list_id": news, "email": "scope@example.org"}),
             ("post", "unsubscribe", {"token": "x"}),
             ("post", "preferences", {"list_id": news, "email": "scope@example.org", "preferences": {}})]
    try:
        for method, path, body in calls:
            for endpoints in (send_only, lists_only):
                assert error(endpoints.post(path, body), 403) == "forbidden", path
            for endpoints in (anonymous, bad, wrong_password):
                response = endpoints.post(path, body)
                assert error(response, 401) == "unauthorized", path
                assert "Bearer" in response.headers["www-authenticate"]
        assert error(send_only.get("preferences", list_id=news, email="scope@example.org"), 403) == "forbidden"
        assert error(anonymous.get("preferences", list_id=news, email="scope@example.org"), 401) == "unauthorized"
        assert "scope@example.org" not in members(server, news)
    finally:
        for endpoints in (send_only, lists_only, anonymous, bad, wrong_password):
            endpoints.close()


def test_hostile_input(server, tenant, news):
    cases = [
        b"{not json", b"", b"[]", b'"x"', b"\xff\xfe{}", b'{"list_id": "1", "email": "a@example.org"}',
        b'{"list_id": 1, "email": "a@example.org", "admin": true}', b'{"list_id": 1}',
        json.dumps({"list_id": news, "email": "not an address"}).encode(),
        json.dumps({"list_id": news, "email": "a@[127.0.0.1]"}).encode(),
        json.dumps({"list_id": news, "email": "a@example.org", "preferences": {"k": "v" * 20000}}).encode(),
        json.dumps({"list_id": 2 ** 80, "email": "a@example.org"}).encode(),
    ]
    for body in cases:
        response = tenant.post("subscribe", body)
        assert response.status_code in (400, 404), body[:60]
        error(response, response.status_code)
    assert error(tenant.post("subscribe", b"{" + b" " * (2 * 1024 * 1024) + b"}"), 413) == "too_large"
    assert error(tenant.post("nothing-here", b"{}"), 404) == "not_found"
    response = tenant.client.delete("subscribe")
    assert error(response, 405) == "method_not_allowed" and response.headers["allow"] == "POST"
    assert error(tenant.client.get("subscribe"), 405) == "method_not_allowed"
    assert error(tenant.client.get("confirm?token=%FF"), 400) == "bad_request"  # not UTF-8
    assert all(status == "pending" or address != "a@example.org" for address, status in members(server, news).items())


def test_rate_per_address(server):
    endpoints = Endpoints(server, source="127.99.0.1")
    try:
        statuses = [endpoints.post("one-click?token=x", "List-Unsubscribe=One-Click").status_code for _ in range(600)]
        assert set(statuses) == {400}
        response = endpoints.post("one-click?token=x", "List-Unsubscribe=One-Click")
        assert error(response, 429) == "rate_limited" and int(response.headers["retry-after"]) > 0
    finally:
        endpoints.close()
    # Another address is not affected.
    assert httpx.post(f"{root(server)}/newsletter/one-click?token=x", content="List-Unsubscribe=One-Click",
                      timeout=30).status_code == 400


def test_a_bounced_address_gets_nothing_until_it_is_off_the_suppression_list(server, tenant, news):
    subscribe(tenant, news, "gone@example.org")
    wait_confirmations(server, "gone@example.org")
    # As a bounce leaves it: the address suppressed, the member bounced (the send jobs' part).
    ok(server.call("SuppressionAdd", {"EmailAddress": "gone@example.org", "Reason": "bounced"}))
    execute(server.config, "update newsletter_members set status = 'bounced', confirm_nonce = '' where email_key = ?",
            ("gone@example.org",))
    assert subscribe(tenant, news, "gone@example.org") == {"status": "bounced", "confirm_token": None}
    assert members(server, news)["gone@example.org"] == "bounced"
    ok(server.call("SuppressionRemove", {"EmailAddress": "gone@example.org"}))
    answer = subscribe(tenant, news, "gone@example.org")
    assert answer["status"] == "pending" and answer["confirm_token"]
    wait_confirmations(server, "gone@example.org", 2)


def test_an_oauth_access_token_with_the_scope_works(server, news):
    out = subprocess.run([sys.executable, os.path.join(ROOT, "mox.py"), "client", "add", "mox", "-scope",
                          "newsletter:members,send", "-name", "site", "-config", server.config.path],
                         capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    client = (out.stdout.splitlines()[0], out.stdout.splitlines()[-1])
    for scope, status in (("newsletter:members", 200), ("send", 403)):
        response = httpx.post(f"{root(server)}/oauth/token", data={"grant_type": "client_credentials",
                                                                   "scope": scope}, auth=client, timeout=30)
        assert response.status_code == 200, response.text
        endpoints = Endpoints(server, response.json()["access_token"])
        try:
            response = endpoints.post("subscribe", {"list_id": news, "email": "oauth@example.org"})
            assert response.status_code == status, response.text
        finally:
            endpoints.close()
    assert members(server, news)["oauth@example.org"] == "pending"

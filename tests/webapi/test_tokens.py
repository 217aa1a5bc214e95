"""API tokens over the real webapi: scopes per method, the viewer role,
expiry, revocation, the throttle, the token CLI, and accounts kept apart."""

from __future__ import annotations

import json
import os
import smtplib
import subprocess
import sys
import time

import httpx
import pytest

from moxpy.webapi.types import METHODS

from ..localserve import ADDRESS, ADMIN, PASSWORD, ROOT
from .mailboxhelp import compose, deliver_smtp

SCOPES = ["send", "read", "read.body", "modify", "suppressions", "tokens", "admin"]

# The scope each method needs, written out here rather than read from the code under test.
NEEDS = {
    "Send": "send",
    "SuppressionList": "suppressions", "SuppressionAdd": "suppressions", "SuppressionRemove": "suppressions",
    "SuppressionPresent": "suppressions",
    "MessageGet": "read", "MailboxList": "read", "MessageList": "read", "MessageSearch": "read", "ChangesSince": "read",
    "MessageRawGet": "read.body", "MessagePartGet": "read.body", "MessageTextGet": "read.body",
    "MessageDelete": "modify", "MessageFlagsAdd": "modify", "MessageFlagsRemove": "modify", "MessageMove": "modify",
    "MailboxCreate": "modify", "MailboxRename": "modify", "MailboxDelete": "modify",
    "TokenCreate": "tokens", "TokenList": "tokens", "TokenRevoke": "tokens",
    "AccountExists": "admin",
    "AccountCreate": "admin", "AccountSetPassword": "admin", "AccountDelete": "admin", "AccountPurge": "admin",
    "AccountUnreadCount": "admin",
    "FetchRuleAdd": "admin", "FetchRuleUpdate": "admin", "FetchRuleDelete": "admin", "FetchRuleList": "admin",
    "RuleCreate": "admin", "RuleUpdate": "admin", "RuleDelete": "admin", "RuleList": "admin",
    "ListCreate": "newsletter:lists", "ListGet": "newsletter:lists", "ListUpdate": "newsletter:lists",
    "ListDelete": "newsletter:lists", "ListsList": "newsletter:lists", "ListMembers": "newsletter:lists",
}

MARKER = "ZEBRA-BODY-MARKER-7731"


def mox(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, os.path.join(ROOT, "mox.py"), *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)


def bearer(server, token: str, method: str, request: dict | str = "{}") -> httpx.Response:
    body = request if isinstance(request, str) else json.dumps(request)
    return httpx.post(server.base_url + method, data={"request": body},
                      headers={"Authorization": f"Bearer {token}"}, timeout=30)


def create(server, scopes: list[str], **fields) -> dict:
    response = server.call("TokenCreate", {"Scopes": scopes, **fields})
    assert response.status_code == 200, response.text
    return response.json()


def cli_token(server, scopes: str) -> str:
    out = mox("token", "add", "mox", "-scope", scopes, "-config", server.config.path)
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()[-1]


@pytest.fixture(scope="module")
def tokens(server) -> dict[str, str]:
    """A token per single scope; the admin one from the operator's command, as only it may make one."""
    made = {scope: create(server, [scope], Name=f"only {scope}")["Token"] for scope in SCOPES if scope != "admin"}
    return {**made, "admin": cli_token(server, "admin")}


def test_every_method_is_in_the_table():
    assert set(NEEDS) == set(METHODS)


def test_each_scope_against_each_method(server, tokens):
    # "{}" makes no change anywhere: allowed calls fail on their empty request (or succeed), never with 403.
    for method, needed in NEEDS.items():
        for scope, token in tokens.items():
            response = bearer(server, token, method)
            if scope == needed:
                assert response.status_code in (200, 400), (method, scope, response.text)
                if response.status_code == 400:
                    assert response.json()["Code"] != "permissionDenied", (method, scope)
            else:
                assert response.status_code == 403, (method, scope, response.status_code, response.text)
                assert response.headers["content-type"].startswith("application/json")
                body = response.json()
                assert body["Code"] == "permissionDenied" and body["Message"], (method, scope)


def test_the_password_keeps_every_method_but_administration(server):
    for method, needed in NEEDS.items():
        response = server.call(method, "{}")
        if needed == "admin":
            assert response.status_code == 403 and response.json()["Code"] == "permissionDenied", method
            assert "admin credential" in response.json()["Message"]
            continue
        assert response.status_code in (200, 400), (method, response.text)
        if response.status_code == 400:
            assert response.json()["Code"] != "permissionDenied", method


def test_the_admin_login_has_administration_only(server):
    assert any("the admin password is moxadmin" in line for line in server.output), server.output[:20]
    for method, needed in NEEDS.items():
        response = server.call(method, "{}", **ADMIN)
        if needed == "admin":
            assert response.status_code in (200, 400), (method, response.text)
            assert response.status_code == 200 or response.json()["Code"] != "permissionDenied", method
        else:
            assert response.status_code == 403 and response.json()["Code"] == "permissionDenied", method
            assert "account's credentials" in response.json()["Message"]
    assert server.call("AccountExists", {"Name": "mox"}, **ADMIN).json() == {"Found": True}
    assert server.call("AccountExists", {"Name": "MOX@localhost"}, **ADMIN).json() == {"Found": True}
    assert server.call("AccountExists", {"Name": "nobody"}, **ADMIN).json() == {"Found": False}
    response = server.call("AccountExists", {"Name": "mox"}, user="admin", password="moxmoxmox")
    assert response.status_code == 401


def test_only_the_operator_or_an_admin_makes_admin_tokens(server, tokens):
    # The account's password, and its tokens, cannot reach beyond the account.
    response = server.call("TokenCreate", {"Scopes": ["admin"]})
    assert response.status_code == 403 and response.json()["Code"] == "permissionDenied"
    everything = create(server, ["tokens", "read"])["Token"]
    assert bearer(server, everything, "TokenCreate", {"Scopes": ["admin"]}).status_code == 403
    # A token with admin may pass it on; the result administers.
    both = cli_token(server, "admin,tokens")
    response = bearer(server, both, "TokenCreate", {"Scopes": ["admin"]})
    assert response.status_code == 200, response.text
    made = response.json()["Token"]
    assert bearer(server, made, "AccountExists", {"Name": "mox"}).json() == {"Found": True}
    assert bearer(server, tokens["admin"], "AccountExists", {"Name": "nobody"}).json() == {"Found": False}


def test_a_token_works_with_several_scopes(server):
    token = create(server, ["read", "modify"])["Token"]
    assert bearer(server, token, "MailboxList").status_code == 200
    assert bearer(server, token, "MailboxCreate", {"Name": "TokenMade"}).status_code == 200
    assert bearer(server, token, "MailboxDelete", {"Name": "TokenMade"}).status_code == 200
    assert bearer(server, token, "Send", {"To": [{"Address": "mox@localhost"}], "Text": "x"}).status_code == 403


def test_a_send_token_sends_from_the_account(server, tokens):
    response = bearer(server, tokens["send"], "Send", {"To": [{"Address": "mox@localhost"}], "Subject": "by token",
                                                       "Text": "sent with a token"})
    assert response.status_code == 200, response.text
    assert response.json()["Submissions"][0]["QueueMsgID"] > 0


def test_the_viewer_never_receives_body_bytes(server):
    cursor = server.call("ChangesSince", {"Cursor": ""}).json()["NextCursor"]
    data = compose(subject="for the viewer", text=f"text {MARKER} here", html=f"<p>html {MARKER}</p>",
                   attachment=f"attached {MARKER}".encode())
    deliver_smtp(server, data)
    found = server.wait_for(lambda: [m for m in server.call("MessageList", {}).json()["Messages"]
                                     if m["Subject"] == "for the viewer"])
    msg_id = found[0]["MsgID"]
    # The marker is there to be found by a token that may read bodies, so its absence below means something.
    full = create(server, ["read", "read.body"])["Token"]
    response = bearer(server, full, "MessageGet", {"MsgID": msg_id})
    assert MARKER in response.text and response.json()["Viewer"] is False
    assert MARKER in bearer(server, full, "MessageList").text  # the preview

    viewer = create(server, ["read"], Name="viewer")["Token"]
    answers = {
        "MessageList": bearer(server, viewer, "MessageList", {"PageSize": 1000}),
        "MessageSearch": bearer(server, viewer, "MessageSearch", {"Subject": "viewer"}),
        "MessageGet": bearer(server, viewer, "MessageGet", {"MsgID": msg_id}),
        "ChangesSince": bearer(server, viewer, "ChangesSince", {"Cursor": cursor, "Limit": 1000}),
        "MessageRawGet": bearer(server, viewer, "MessageRawGet", {"MsgID": msg_id}),
        "MessagePartGet": bearer(server, viewer, "MessagePartGet", {"MsgID": msg_id, "PartPath": [0]}),
        "MessagePartGet attachment": bearer(server, viewer, "MessagePartGet", {"MsgID": msg_id, "PartPath": [1]}),
        "MessageTextGet": bearer(server, viewer, "MessageTextGet", {"MsgID": msg_id}),
        "MessageSearch Body": bearer(server, viewer, "MessageSearch", {"Body": MARKER}),
        "MessageSearch Text": bearer(server, viewer, "MessageSearch", {"Text": MARKER}),
    }
    for name, response in answers.items():
        assert MARKER not in response.text and MARKER.encode() not in response.content, name
    for name in ("MessageList", "MessageSearch", "MessageGet", "ChangesSince"):
        assert answers[name].status_code == 200, (name, answers[name].text)
    for name in ("MessageRawGet", "MessagePartGet", "MessagePartGet attachment", "MessageTextGet",
                 "MessageSearch Body", "MessageSearch Text"):
        assert answers[name].status_code == 403, (name, answers[name].text)
        assert answers[name].json()["Code"] == "permissionDenied", name

    got = answers["MessageGet"].json()
    assert got["Viewer"] is True
    assert got["Message"]["Subject"] == "for the viewer"
    assert got["Message"]["Text"] == "" and got["Message"]["HTML"] == ""
    assert got["Structure"]["ContentType"] == "multipart/mixed" and got["Meta"]["MsgFrom"]
    assert any(m["MsgID"] == msg_id for m in answers["MessageSearch"].json()["Messages"])
    news = [c for c in answers["ChangesSince"].json()["Changes"] if c["Event"] == "messageNew" and c["MsgID"] == msg_id]
    assert news and news[0]["Message"]["Preview"] == ""

    # Forwarding attaches the whole original: a send token without read.body cannot do it.
    sender = create(server, ["send", "read"])["Token"]
    response = bearer(server, sender, "Send", {"To": [{"Address": "mox@localhost"}],
                                               "Reference": {"MsgID": msg_id, "Action": "forward"}})
    assert response.status_code == 403 and response.json()["Code"] == "permissionDenied"


def test_expired_and_revoked_tokens_are_refused(server):
    short = create(server, ["read"], Expires="1s")
    assert short["Expires"] is not None
    assert bearer(server, short["Token"], "MailboxList").status_code == 200
    time.sleep(1.2)
    response = bearer(server, short["Token"], "MailboxList")
    assert response.status_code == 401
    assert response.text.startswith("401 - unauthorized - ")
    assert "invalid_token" in response.headers["www-authenticate"]

    kept = create(server, ["read"])
    assert bearer(server, kept["Token"], "MailboxList").status_code == 200
    assert server.call("TokenRevoke", {"ID": kept["ID"]}).status_code == 200
    assert bearer(server, kept["Token"], "MailboxList").status_code == 401
    listed = {t["ID"]: t for t in server.call("TokenList", {}).json()["Tokens"]}
    assert listed[kept["ID"]]["Revoked"] is not None and listed[short["ID"]]["Revoked"] is None
    assert all("Token" not in t for t in listed.values())
    # An unknown token, and one that is not a token at all.
    assert bearer(server, "mxt_" + "A" * 43, "MailboxList").status_code == 401
    assert bearer(server, "not-a-token", "MailboxList").status_code == 401


def test_bad_token_requests_are_clear_errors(server):
    for request, fragment in (({"Scopes": ["bogus"]}, "unknown scope"), ({"Scopes": []}, "no scope"),
                              ({"Scopes": ["read"], "Expires": "soon"}, "bad duration"),
                              ({"Scopes": ["read"], "Expires": "99999999999999999h"}, "at most")):
        response = server.call("TokenCreate", request)
        assert response.status_code == 400, response.text
        assert response.json()["Code"] == "user" and fragment in response.json()["Message"]
    assert server.call("TokenRevoke", {"ID": 999999}).json()["Code"] == "tokenNotFound"


def test_a_token_cannot_grant_more_than_it_has(server):
    token = create(server, ["tokens", "read"])["Token"]
    response = bearer(server, token, "TokenCreate", {"Scopes": ["read", "send"]})
    assert response.status_code == 403 and response.json()["Code"] == "permissionDenied"
    response = bearer(server, token, "TokenCreate", {"Scopes": ["read"]})
    assert response.status_code == 200, response.text
    assert bearer(server, response.json()["Token"], "MailboxList").status_code == 200


def test_accounts_never_see_each_others_tokens(server):
    out = mox("account", "add", "bob", "bob@localhost", "-password", "bobsecret1", "-config", server.config.path)
    assert out.returncode == 0, out.stderr
    bob = dict(user="bob@localhost", password="bobsecret1")
    server.wait_for(lambda: server.call("TokenList", {}, **bob).status_code == 200)
    mine = create(server, ["read"], Name="mox's")
    bobs = server.call("TokenCreate", {"Scopes": ["read", "tokens"], "Name": "bob's"}, **bob).json()

    bob_ids = [t["ID"] for t in server.call("TokenList", {}, **bob).json()["Tokens"]]
    assert bob_ids == [bobs["ID"]]
    assert mine["ID"] not in [t["ID"] for t in bearer(server, bobs["Token"], "TokenList").json()["Tokens"]]
    assert bobs["ID"] not in [t["ID"] for t in server.call("TokenList", {}).json()["Tokens"]]
    for response in (server.call("TokenRevoke", {"ID": mine["ID"]}, **bob),
                     bearer(server, bobs["Token"], "TokenRevoke", {"ID": mine["ID"]})):
        assert response.status_code == 400 and response.json()["Code"] == "tokenNotFound"
    assert bearer(server, mine["Token"], "MailboxList").status_code == 200
    # Bob's token acts on bob's account: a mailbox made with the password shows for it, not for mox.
    assert server.call("MailboxCreate", {"Name": "BobOnly"}, **bob).status_code == 200
    assert "BobOnly" in bearer(server, bobs["Token"], "MailboxList").text
    assert "BobOnly" not in bearer(server, mine["Token"], "MailboxList").text


def test_cli_add_list_revoke(server):
    config = server.config.path
    out = mox("token", "add", "mox", "-scope", "read,send", "-name", "cli made", "-config", config)
    assert out.returncode == 0, out.stderr
    token = out.stdout.splitlines()[-1]
    assert token.startswith("mxt_") and len(token) == 47
    assert bearer(server, token, "MailboxList").status_code == 200
    assert bearer(server, token, "SuppressionList").status_code == 403

    out = mox("token", "list", "-config", config)
    assert out.returncode == 0, out.stderr
    assert token not in out.stdout and token[4:20] not in out.stdout
    (row,) = [line.split("\t") for line in out.stdout.splitlines() if line.endswith("\tcli made")]
    token_id, account, scopes, state = row[0], row[1], row[2], row[5]
    assert (account, scopes, state) == ("mox", "send,read", "active")

    out = mox("token", "revoke", token_id, "-config", config)
    assert out.returncode == 0, out.stderr
    assert bearer(server, token, "MailboxList").status_code == 401
    assert "\trevoked\tcli made" in mox("token", "list", "mox", "-config", config).stdout

    out = mox("token", "add", "mox", "-scope", "read", "-expires", "1s", "-config", config)
    assert out.returncode == 0, out.stderr
    short = out.stdout.splitlines()[-1]
    time.sleep(1.2)
    assert bearer(server, short, "MailboxList").status_code == 401


def test_cli_errors_are_one_line(server):
    config = server.config.path
    for args, fragment in ((("token", "add", "mox", "-scope", "read,bogus"), "unknown scope"),
                           (("token", "add", "nobody", "-scope", "read"), "no account"),
                           (("token", "add", "mox", "-scope", "read", "-expires", "later"), "bad duration"),
                           (("token", "revoke", "999999"), "no token"),
                           (("token", "revoke", "x1"), "not a token id")):
        out = mox(*args, "-config", config)
        assert out.returncode == 1, (args, out.stdout, out.stderr)
        assert len(out.stderr.splitlines()) == 1 and fragment in out.stderr, (args, out.stderr)
        assert "Traceback" not in out.stderr
    out = mox("token", "add", "mox", "-config", config)  # no -scope
    assert out.returncode == 2 and len(out.stderr.splitlines()) == 1


def test_bad_tokens_are_throttled(new_server):
    srv = new_server().start()
    good = srv.call("TokenCreate", {"Scopes": ["read"]}).json()["Token"]
    codes = [bearer(srv, "mxt_" + "B" * 43, "MailboxList").status_code for _ in range(10)]
    assert codes == [401] * 10
    # Past the limit even a good token, and the password, are refused unchecked.
    assert bearer(srv, "mxt_" + "B" * 43, "MailboxList").status_code == 429
    assert bearer(srv, good, "MailboxList").status_code == 429
    assert srv.call("MailboxList", {}).status_code == 429
    # The same throttle as passwords, on every listener: SMTP submission (in the other process) refuses too.
    with smtplib.SMTP("127.0.0.1", srv.submission_port, timeout=30) as smtp:
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            smtp.login(ADDRESS, PASSWORD)
        assert e.value.smtp_code == 454


def test_the_python_client_takes_a_token(server):
    from moxpy.webapi import Client, WebapiError

    made = create(server, ["read"])
    with Client(server.base_url, token=made["Token"]) as client:
        assert [m.Name for m in client.MailboxList().Mailboxes][0] == "Inbox"
        with pytest.raises(WebapiError) as e:
            client.SuppressionList()
        assert e.value.code == "permissionDenied"


def test_method_pages_and_docs_name_the_scope(server):
    page = httpx.get(server.base_url + "MessageRawGet", timeout=30)
    assert "Token scope: <code>read.body</code>" in page.text
    docs = httpx.get(server.base_url + "docs", timeout=30).text
    assert "permissionDenied" in docs and "<code>read.body</code>" in docs
    openapi = httpx.get(server.base_url + "openapi.json", timeout=30).json()
    assert openapi["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert "403" in openapi["paths"]["/webapi/v0/Send"]["post"]["responses"]

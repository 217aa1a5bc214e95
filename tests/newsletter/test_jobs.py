"""Send jobs against a real localserve: a job to a list's confirmed members delivers one message each, with
the list's header fields, signed; its counts follow the queue; a failing member becomes bounced; the
endpoints refuse other tenants, missing scopes and bad input with JSON errors."""

from __future__ import annotations

import email
import email.policy
import imaplib
import re
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from moxpy.newsletter.signing import UNSUBSCRIBE, Signer

from ..imapclient import login
from ..localserve import ADMIN, LocalServer
from .jobshelp import api, cancel_job, create_job, get_job, make_list, member_status, set_status, token, wait_job

SCOPES = ["newsletter:send.write", "newsletter:send.read"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    def configure(config):
        config.Newsletter.SendRatePerMinute = 6000  # 100 a second: a batch of 100 every second

    srv = LocalServer(str(tmp_path_factory.mktemp("jobs")), configure).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def tok(server):
    return token(server, SCOPES)


def rfc3339(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat()


def job_body(list_id: int, **fields) -> dict:
    return {"tenant_id": "mox", "list_id": list_id, "name": "test", "subject": "Hello {{ email }}",
            "body_text": "Hi {{ email }}, lang {{ lang }}.", "body_html": "<p>{{ preferences.lang }}</p>", **fields}


def headers_with(imap: imaplib.IMAP4, field: str, value: str) -> list[email.message.Message]:
    """The header sections of the Inbox's messages whose field contains value."""
    imap.select("INBOX", readonly=True)
    typ, data = imap.uid("SEARCH", None, "HEADER", field, value)
    assert typ == "OK"
    uids = data[0].split()
    if not uids:
        return []
    typ, data = imap.uid("FETCH", b",".join(uids).decode(), "(BODY.PEEK[HEADER] BODY.PEEK[TEXT])")
    assert typ == "OK"
    found = []
    parts = [item for item in data if isinstance(item, tuple)]
    for head, text in zip(parts[0::2], parts[1::2]):
        found.append(email.message_from_bytes(head[1] + text[1], policy=email.policy.default))
    return found


def test_a_job_to_200_members_delivers_200_messages_with_list_headers_at_its_time(server, tok):
    members = [f"m{i:03d}@example.com" for i in range(200)]
    prefs = {"m007@example.com": {"lang": "<b>nl</b>"}}
    list_id = make_list(server, members, preferences=prefs)
    scheduled = time.time() + 3
    response = create_job(server, tok, job_body(list_id, scheduled_at=rfc3339(scheduled)))
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["status"] == "scheduled"
    early = get_job(server, tok, created["id"]).json()
    assert early["status"] == "scheduled" and early["started_at"] is None
    assert early["counts"]["recipients"] == 0

    # The last messages may be delivered before the runner, waiting out the rate, finds no one left.
    done = wait_job(server, tok, created["id"], lambda b: b["counts"]["delivered"] == 200 and b["status"] == "finished",
                    timeout=90)
    assert done["status"] == "finished"
    assert done["counts"] == {"recipients": 200, "queued": 0, "delayed": 0, "delivered": 200, "failed": 0,
                              "suppressed": 0, "unsubscribed": 0, "canceled": 0}
    started = datetime.fromisoformat(done["started_at"]).timestamp()
    assert started >= int(scheduled)
    assert done["finished_at"] is not None

    signer = Signer(server.config.data_dir())
    imap = login(server)
    try:
        messages = headers_with(imap, "List-Id", f"<{list_id}.lists.localhost>")
    finally:
        imap.logout()
    assert sorted(str(m["To"]) for m in messages) == members  # each once
    for m in messages:
        to = str(m["To"])
        assert m["Subject"] == f"Hello {to}"
        assert m["List-Id"] == f'"News" <{list_id}.lists.localhost>'
        assert m["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        links = re.findall(r"<([^>]*)>", m["List-Unsubscribe"])
        assert links[1] == "mailto:mox@localhost?subject=unsubscribe"
        url = httpx.URL(links[0])
        assert url.path == "/newsletter/one-click"
        claims = signer.verify(url.params["token"], UNSUBSCRIBE)
        assert (claims.list_id, claims.email) == (list_id, to)
        # RFC 8058 4: the signature covers both fields.
        signed = re.sub(r"\s", "", str(m["DKIM-Signature"])).lower()
        h = re.search(r"h=([^;]*)", signed).group(1).split(":")
        assert "list-unsubscribe" in h and "list-unsubscribe-post" in h and "list-id" in h
    seven = next(m for m in messages if str(m["To"]) == "m007@example.com")
    html = seven.get_body(("html",)).get_content()
    assert "&lt;b&gt;nl&lt;/b&gt;" in html  # autoescaped in HTML
    assert "lang <b>nl</b>." in seven.get_body(("plain",)).get_content()  # a preference as a name of its own
    # The job's messages passed the DKIM check on their way in.
    assert "dkim=pass" in str(seven["Authentication-Results"])

    # The one-click link of a message, POSTed as a mail client does it (RFC 8058 3.2), unsubscribes that
    # member from that list at once, without a login; the other members stay.
    one_click = re.findall(r"<([^>]*)>", seven["List-Unsubscribe"])[0]
    response = httpx.post(one_click, content=b"List-Unsubscribe=One-Click",
                          headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=10)
    assert response.status_code == 200, response.text
    assert member_status(server, "mox", list_id, "m007@example.com") == "unsubscribed"
    assert member_status(server, "mox", list_id, "m008@example.com") == "confirmed"

    # A finished job cannot be canceled.
    response = cancel_job(server, tok, created["id"])
    assert response.status_code == 409
    assert response.json()["error"] == "conflict"


def test_a_permerror_member_fails_and_becomes_bounced(server, tok):
    list_id = make_list(server, ["fine@example.com", "xpermerror@example.com"])
    response = create_job(server, tok, job_body(list_id, scheduled_at=""))
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "sending"
    done = wait_job(server, tok, response.json()["id"], lambda b: b["counts"]["queued"] == 0 and b["status"] == "finished")
    assert done["counts"]["delivered"] == 1 and done["counts"]["failed"] == 1
    assert member_status(server, "mox", list_id, "xpermerror@example.com") == "bounced"
    assert member_status(server, "mox", list_id, "fine@example.com") == "confirmed"

    # Any permanent failure the suppression list records bounces the account's members, also from a Send.
    other = make_list(server, ["ypermerror@example.com"])
    response = server.call("Send", {"To": [{"Address": "ypermerror@example.com"}], "Subject": "s", "Text": "t"})
    assert response.status_code == 200, response.text
    server.wait_for(lambda: member_status(server, "mox", other, "ypermerror@example.com") == "bounced")


def test_suppressed_members_get_nothing_and_are_counted(server, tok):
    list_id = make_list(server, ["keep@example.com", "supp@example.com"])
    response = server.call("SuppressionAdd", {"EmailAddress": "supp@example.com", "Manual": True, "Reason": "test"})
    assert response.status_code == 200, response.text
    response = create_job(server, tok, job_body(list_id, subject="suppressed test {{ email }}"))
    done = wait_job(server, tok, response.json()["id"], lambda b: b["status"] == "finished" and not b["counts"]["queued"])
    assert done["counts"]["suppressed"] == 1 and done["counts"]["delivered"] == 1
    subjects = [m["subject"] for m in server.messages()]
    assert "suppressed test keep@example.com" in subjects
    assert "suppressed test supp@example.com" not in subjects


def test_another_tenant_and_missing_credentials_are_refused_everywhere(server, tok):
    list_id = make_list(server, ["iso@example.com"])
    job_id = create_job(server, tok, job_body(list_id, scheduled_at=rfc3339(time.time() + 3600))).json()["id"]
    created = server.call("AccountCreate", {"Name": "tenant2", "Password": "tenant2-secret"}, **ADMIN)
    assert created.status_code == 200, created.text
    other = token(server, SCOPES, user=created.json()["Address"], password="tenant2-secret")
    tenant2 = created.json()["Name"]

    # Naming mox as tenant with tenant2's token: 403. Its own tenant with mox's list: 404, as a missing one.
    response = create_job(server, other, job_body(list_id))
    assert response.status_code == 403 and response.json()["error"] == "forbidden"
    response = create_job(server, other, job_body(list_id, tenant_id=tenant2))
    assert response.status_code == 404
    missing = create_job(server, other, job_body(999999, tenant_id=tenant2))
    assert missing.status_code == 404 and missing.json() == response.json()
    # mox's job is not found for tenant2, reading or canceling, like a job that does not exist.
    for path in (f"/api/send-jobs/{job_id}", "/api/send-jobs/999999"):
        assert get_job(server, other, path.rsplit("/", 1)[1]).status_code == 404
        assert cancel_job(server, other, path.rsplit("/", 1)[1]).status_code == 404
    assert get_job(server, tok, job_id).json()["status"] == "scheduled"

    # Scopes: a read-only token cannot create or cancel, a write-only one cannot read.
    read_only = token(server, ["newsletter:send.read"])
    write_only = token(server, ["newsletter:send.write"])
    for response in (create_job(server, read_only, job_body(list_id)), cancel_job(server, read_only, job_id),
                     get_job(server, write_only, job_id)):
        assert response.status_code == 403, response.text
        assert "scope" in response.json()["message"]
    with api(server) as c:
        response = c.post("/api/send-jobs", json=job_body(list_id))
        assert response.status_code == 401 and response.json()["error"] == "unauthorized"
        response = c.get(f"/api/send-jobs/{job_id}", headers={"Authorization": "Bearer mxt_nosuchtoken"})
        assert response.status_code == 401
    # Canceling the scheduled job: it never sends, and canceling again changes nothing.
    response = cancel_job(server, tok, job_id)
    assert response.status_code == 200 and response.json()["status"] == "canceled"
    assert cancel_job(server, tok, job_id).json()["status"] == "canceled"
    time.sleep(0.5)
    assert get_job(server, tok, job_id).json()["counts"]["recipients"] == 0


@pytest.mark.parametrize("change, status, words", [
    ({"subject": "{{ email"}, 400, "template"),
    ({"body_html": "{% for x in %}"}, 400, "template"),
    ({"body_text": "{{ 1 / 0 }}"}, 400, "template"),
    ({"body_text": "{{ ''.__class__.__mro__ }}"}, 400, "template"),
    ({"scheduled_at": "tomorrow"}, 400, "scheduled_at"),
    ({"scheduled_at": "2030-01-02T03:04:05"}, 400, "scheduled_at"),
    ({"scheduled_at": "2030-01-02"}, 400, "scheduled_at"),
    ({"scheduled_at": 5}, 400, "scheduled_at"),
    ({"scheduled_at": "2999-01-02T03:04:05Z"}, 400, "year"),
    ({"list_id": "x"}, 400, "list_id"),
    ({"list_id": 424242}, 404, "list"),
    ({"subject": ""}, 400, "subject"),
    ({"body_text": "", "body_html": ""}, 400, "body"),
    ({"tenant_id": None}, 400, "tenant_id"),
])
def test_bad_requests_are_json_errors_saying_why(server, tok, change, status, words):
    list_id = make_list(server, ["bad@example.com"]) if "list_id" not in change else 0
    response = create_job(server, tok, {**job_body(list_id), **change})
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "message"}
    assert words in body["message"]


def test_bad_bodies_methods_and_paths(server, tok):
    auth = {"Authorization": f"Bearer {tok}"}
    with api(server) as c:
        for content in (b"{not json", b"\xff\xfe", b"[1, 2]", b"[" * 100000):
            response = c.post("/api/send-jobs", content=content, headers=auth)
            assert response.status_code == 400, response.text
            assert response.json()["error"] == "bad_request"
        response = c.post("/api/send-jobs", content=b" " * (3 * 1024 * 1024), headers=auth)
        assert response.status_code == 413
        response = c.get("/api/send-jobs", headers=auth)
        assert response.status_code == 405 and response.headers["allow"] == "POST"
        response = c.post("/api/send-jobs/1", headers=auth)
        assert response.status_code == 405
        for path in ("/api/other", "/api/send-jobs/abc", "/api/send-jobs/1/stop"):
            response = c.get(path, headers=auth)
            assert response.status_code == 404 and response.json()["error"] == "not_found"

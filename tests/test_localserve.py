"""localserve end to end: send with curl and the webapi, deliver over SMTP,
read back with MessageGet and MessageRawGet, survive restarts."""

import json
import shutil
import signal
import smtplib
import subprocess
import time

import pytest

from .localserve import ADDRESS, PASSWORD

CURL_SEND = {"To": [{"Address": "mox@localhost"}], "Subject": "hello", "Text": "hi ☺"}


def test_banner_prints_credentials_urls_and_rules(server):
    out = "".join(server.output)
    assert "mox@localhost" in out and "moxmoxmox" in out
    assert f"smtp://localhost:{server.smtp_port}" in out
    assert f"http://localhost:{server.ports['WebAPIHTTP']}/webapi/v0/" in out
    for rule in ("temperror", "permerror", "[45][0-9][0-9]", "mailfrom", "rcptto", "queue"):
        assert rule in out


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_curl_send_is_delivered_to_inbox_and_readable(server):
    before = len(server.messages())
    out = subprocess.run(
        ["curl", "-s", "--user", f"{ADDRESS}:{PASSWORD}", "--data", "request=" + json.dumps(CURL_SEND, ensure_ascii=False),
         server.base_url + "Send"],
        capture_output=True, check=True,
    )
    result = json.loads(out.stdout)
    assert set(result) == {"MessageID", "Submissions"}
    assert result["MessageID"].startswith("<") and result["MessageID"].endswith("@localhost>")
    [submission] = result["Submissions"]
    assert submission["Address"] == "mox@localhost"
    assert isinstance(submission["QueueMsgID"], int) and submission["QueueMsgID"] > 0
    assert submission["FromID"] == ""

    # The queue delivers it over our SMTP listener into the Inbox, well within a second.
    started = time.monotonic()
    rows = server.wait_for(lambda: [r for r in server.messages()[before:] if r["message_id"] == result["MessageID"]], 5)
    assert time.monotonic() - started < 1.0
    row = rows[0]
    assert row["mailbox"] == "Inbox"

    got = server.call("MessageGet", {"MsgID": row["id"]})
    assert got.status_code == 200
    body = got.json()
    msg = body["Message"]
    assert msg["Subject"] == "hello"
    assert msg["Text"] == "hi ☺\n"
    assert msg["HTML"] == ""
    assert msg["From"] == [{"Name": "mox", "Address": "mox@localhost"}]
    assert msg["To"] == [{"Name": "", "Address": "mox@localhost"}]
    assert msg["CC"] == [] and msg["BCC"] == [] and msg["ReplyTo"] == [] and msg["References"] == []
    assert msg["MessageID"] == result["MessageID"]
    assert msg["Date"].endswith("Z") or "+" in msg["Date"]
    assert body["Structure"]["ContentType"] == "text/plain"
    assert body["Structure"]["ContentTypeParams"] == {"charset": "utf-8"}
    assert body["Structure"]["DecodedSize"] == len("hi ☺\r\n".encode())
    assert body["Structure"]["Parts"] == []
    meta = body["Meta"]
    assert meta["MailboxName"] == "Inbox"
    assert meta["MailFrom"] == "mox@localhost"
    assert meta["RcptTo"] == "mox@localhost"
    assert meta["MsgFrom"] == "mox@localhost"
    assert meta["RemoteIP"] == "127.0.0.1"
    assert meta["Size"] == row["size"]
    assert meta["Flags"] == [] and meta["DKIMVerifiedDomains"] == ["localhost"]

    raw = server.call("MessageRawGet", {"MsgID": row["id"]})
    assert raw.status_code == 200
    assert raw.content == server.message_file(row)
    assert raw.content.startswith(b"Received: ")
    assert b"\r\nSubject: hello\r\n" in raw.content


def test_smtplib_delivery_to_any_address(server):
    before = len(server.messages())
    message = (b"From: someone <someone@example.org>\r\nTo: whoever@elsewhere.example\r\n"
               b"Subject: over smtp\r\nMessage-ID: <smtp-1@example.org>\r\n\r\nbody line\r\n.leading dot\r\n")
    with smtplib.SMTP("127.0.0.1", server.smtp_port) as smtp:
        refused = smtp.sendmail("someone@example.org", ["whoever@elsewhere.example", "other+tag@localhost"], message)
    assert refused == {}
    rows = server.wait_for(lambda: server.messages()[before:])
    assert len(rows) == 1  # one copy per account, however many recipients
    row = rows[0]
    assert row["mailbox"] == "Inbox"
    stored = server.message_file(row)
    # Exactly the bytes sent, after our Received header; dot-stuffing undone.
    assert stored.endswith(message)
    assert stored.startswith(b"Received: from ")

    body = server.call("MessageGet", {"MsgID": row["id"]}).json()
    assert body["Message"]["Subject"] == "over smtp"
    assert body["Message"]["Text"] == "body line\n.leading dot\n"
    assert body["Meta"]["MailFrom"] == "someone@example.org"
    assert body["Meta"]["RcptTo"] == "whoever@elsewhere.example"

    raw = server.call("MessageRawGet", {"MsgID": row["id"]})
    assert raw.content == stored


def test_wrong_password_is_401(server):
    resp = server.call("MessageGet", {"MsgID": 1}, password="wrong")
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"] == "Basic realm=webapi"
    resp = server.call("MessageGet", {"MsgID": 1}, user="nobody@localhost")
    assert resp.status_code == 401


def test_missing_credentials_is_401(server):
    import httpx

    resp = httpx.post(server.base_url + "MessageGet", data={"request": '{"MsgID": 1}'})
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"] == "Basic realm=webapi"


def test_unknown_message_is_message_not_found(server):
    resp = server.call("MessageGet", {"MsgID": 999999})
    assert resp.status_code == 400
    assert resp.json() == {"Code": "messageNotFound", "Message": "message not found"}
    resp = server.call("MessageRawGet", {"MsgID": 999999})
    assert resp.status_code == 400
    assert resp.json()["Code"] == "messageNotFound"


@pytest.mark.parametrize("body", ['{"MsgID": 1', '{"MsgID": "one"}', '{"Unknown": 1}', "[]", ""])
def test_malformed_request_is_protocol_error(server, body):
    resp = server.call("MessageGet", body)
    assert resp.status_code == 400
    assert resp.json()["Code"] == "protocol"
    assert resp.json()["Message"]


def test_unknown_method_is_404(server):
    resp = server.call("NoSuchMethod", {})
    assert resp.status_code == 404


@pytest.mark.slow
def test_restart_keeps_every_message(new_server):
    srv = new_server().start()
    sent = []
    for i in range(5):
        resp = srv.call("Send", {"To": [{"Address": f"user{i}@example.com"}], "Subject": f"msg {i}", "Text": "x"})
        assert resp.status_code == 200
        sent.append(resp.json()["MessageID"])
    with smtplib.SMTP("127.0.0.1", srv.smtp_port) as smtp:
        smtp.sendmail("a@example.org", ["mox@localhost"], b"Subject: direct\r\n\r\nhello\r\n")
    srv.wait_for(lambda: len(srv.messages()) == 6)
    before = {r["id"]: (r["uid"], r["message_id"], srv.message_file(r)) for r in srv.messages()}
    assert srv.stop() == 0

    srv.start()
    after = {r["id"]: (r["uid"], r["message_id"], srv.message_file(r)) for r in srv.messages()}
    assert after == before
    for msg_id, (_, message_id, data) in before.items():
        assert srv.call("MessageRawGet", {"MsgID": msg_id}).content == data
    # New messages continue the numbering; nothing is reused.
    resp = srv.call("Send", {"To": [{"Address": "mox@localhost"}], "Text": "after restart"})
    assert resp.status_code == 200
    rows = srv.wait_for(lambda: [r for r in srv.messages() if r["id"] not in before])
    assert rows[0]["id"] > max(before)
    assert rows[0]["uid"] > max(uid for uid, _, _ in before.values())


def test_ctrl_c_exits_quickly(new_server):
    srv = new_server().start()
    assert srv.call("Send", {"To": [{"Address": "mox@localhost"}], "Text": "x"}).status_code == 200
    started = time.monotonic()
    code = srv.stop(signal.SIGINT, timeout=5)
    assert time.monotonic() - started < 2.0
    assert code == 0

"""Webhooks end to end: a real HTTP receiver on loopback gets outgoing
delivery events (delivered, failed, delayed, DSN-based, unrecognized) and
incoming-message webhooks from a localserve; failed POSTs are retried,
newer events supersede undelivered older ones, and the webhook queue
survives a restart. Retry intervals are shortened in the config."""

import json
import smtplib
from datetime import datetime
from email.message import EmailMessage

import msgspec
import pytest

from moxpy.config import Destination, IncomingWebhook, OutgoingWebhook
from moxpy.message import dsn as dsnlib
from moxpy.webapi.types import ChangeEvent
from moxpy.webhooks import types as t

from ..localserve import LocalServer
from ..queuehelp import mox, retired, retired_webhooks, send, webhooks

AUTHORIZATION = "Basic dGVzdDpzZWNyZXQ="
OUTGOING_FIELDS = ["Version", "Event", "DSN", "Suppressing", "QueueMsgID", "FromID", "MessageID", "Subject",
                   "WebhookQueued", "SMTPCode", "SMTPEnhancedCode", "Error", "Extra"]


def configure_hooks(receiver, events=None):
    def configure(config):
        config.Queue.BackoffFirst = 0.3
        config.Queue.MaxAttempts = 2
        config.Queue.WebhookRetryFirst = 0.3
        account = config.Accounts["mox"]
        account.Destinations["tracked@localhost"] = Destination()
        account.FromIDLoginAddresses = ["tracked@localhost"]
        account.OutgoingWebhook = OutgoingWebhook(URL=receiver.url + "/outgoing", Authorization=AUTHORIZATION,
                                                  Events=events or [])
        account.IncomingWebhook = IncomingWebhook(URL=receiver.url + "/incoming")

    return configure


@pytest.fixture(scope="module")
def server(tmp_path_factory, receiver):
    srv = LocalServer(str(tmp_path_factory.mktemp("hooks")), configure_hooks(receiver)).start()
    yield srv
    srv.stop()


@pytest.fixture(autouse=True)
def accept_all(receiver):
    receiver.decide = lambda path, body: 200


def test_send_raises_delivered_webhook_with_every_field(server, receiver):
    result = send(server, {"To": [{"Address": "mox@localhost"}], "Subject": "hook me", "Text": "hi",
                           "Extra": {"customer": "42"}})
    queue_id = result["Submissions"][0]["QueueMsgID"]
    [hook] = receiver.wait("/outgoing", QueueMsgID=queue_id, Event="delivered")
    assert hook.headers["authorization"] == AUTHORIZATION
    assert hook.headers["x-mox-webhook-attempt"] == "1"
    assert int(hook.headers["x-mox-webhook-id"]) > 0
    assert hook.headers["content-type"].startswith("application/json")
    body = hook.body
    assert list(body) == OUTGOING_FIELDS
    assert body["Version"] == 0 and body["DSN"] is False and body["Suppressing"] is False
    assert body["FromID"] == "" and body["MessageID"] == result["MessageID"] and body["Subject"] == "hook me"
    # As mox: SMTP codes are for errors, a delivery carries none.
    assert (body["SMTPCode"], body["SMTPEnhancedCode"], body["Error"]) == (0, "", "")
    assert body["Extra"] == {"customer": "42"}
    datetime.fromisoformat(body["WebhookQueued"].replace("Z", "+00:00"))
    msgspec.json.decode(json.dumps(body), type=t.Outgoing)  # the documented type reads it

    # The message also arrived in the account over SMTP: an incoming webhook.
    [incoming] = receiver.wait("/incoming", Subject="hook me")
    assert "authorization" not in incoming.headers
    meta = incoming.body["Meta"]
    assert meta["RcptTo"] == "mox@localhost" and meta["MailFrom"] == "mox@localhost"
    got = server.call("MessageGet", {"MsgID": meta["MsgID"]}).json()
    assert got["Message"]["Subject"] == "hook me" and got["Message"]["MessageID"] == result["MessageID"]


def test_permanent_failure_raises_failed_webhook(server, receiver):
    result = send(server, {"To": [{"Address": "permerror@example.com"}], "Subject": "fails", "Text": "hi"})
    queue_id = result["Submissions"][0]["QueueMsgID"]
    [hook] = receiver.wait("/outgoing", QueueMsgID=queue_id, Event="failed")
    body = hook.body
    assert (body["SMTPCode"], body["SMTPEnhancedCode"]) == (550, "5.0.0")
    assert body["Suppressing"] is True  # 550 suppresses at once
    assert "550 5.0.0" in body["Error"]
    assert body["DSN"] is False


def test_temporary_failure_raises_delayed_then_failed(server, receiver):
    result = send(server, {"To": [{"Address": "temperror@example.com"}], "Subject": "delays", "Text": "hi"})
    queue_id = result["Submissions"][0]["QueueMsgID"]
    [delayed] = receiver.wait("/outgoing", QueueMsgID=queue_id, Event="delayed")
    assert (delayed.body["SMTPCode"], delayed.body["SMTPEnhancedCode"]) == (451, "4.0.0")
    [failed] = receiver.wait("/outgoing", QueueMsgID=queue_id, Event="failed")
    assert failed.body["Suppressing"] is False  # a temporary code never suppresses
    assert int(failed.headers["x-mox-webhook-id"]) > int(delayed.headers["x-mox-webhook-id"])


def test_failed_post_is_retried_with_next_attempt_number(server, receiver):
    answers = iter([500, 200])
    receiver.decide = lambda path, body: (next(answers, 200) if path == "/outgoing" and body.get("Subject") == "retry me"
                                          else 200)
    result = send(server, {"To": [{"Address": "nobody@example.com"}], "Subject": "retry me", "Text": "hi"})
    queue_id = result["Submissions"][0]["QueueMsgID"]
    first, second = receiver.wait("/outgoing", 2, QueueMsgID=queue_id, Event="delivered")
    assert (first.status, second.status) == (500, 200)
    assert first.headers["x-mox-webhook-attempt"] == "1" and second.headers["x-mox-webhook-attempt"] == "2"
    assert first.headers["x-mox-webhook-id"] == second.headers["x-mox-webhook-id"]
    assert first.body == second.body

    hook_id = first.headers["x-mox-webhook-id"]
    out = server.wait_for(lambda: (o := mox(server, "queue", "webhook", "retired", "-ids", hook_id, "-v").stdout)
                          and "delivered" in o and o)
    assert "status 500" in out and "not now" in out and "status 200" in out and "thanks" in out
    [done] = retired_webhooks(server, ids=[int(hook_id)])
    results = done.results
    assert [(r.code, r.success, r.response) for r in results] == [(500, False, "not now"), (200, True, "thanks")]
    assert all(r.url == receiver.url + "/outgoing" and r.duration >= 0 for r in results)
    assert done.has_authorization and not hasattr(done, "authorization")


def test_incoming_smtp_message_raises_incoming_webhook(server, receiver):
    msg = EmailMessage()
    msg["From"] = "Someone <someone@example.org>"
    msg["To"] = "mox@localhost"
    msg["Subject"] = "incoming over smtp"
    msg["Message-ID"] = "<in1@example.org>"
    msg.set_content("hello there ☺\n")
    msg.add_attachment(b"%PDF-1.4 fake", maintype="application", subtype="pdf", filename="doc.pdf")
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=10) as s:
        s.send_message(msg, from_addr="bounce@example.org", to_addrs=["mox@localhost"])
    [hook] = receiver.wait("/incoming", Subject="incoming over smtp")
    body = msgspec.json.decode(json.dumps(hook.body), type=t.Incoming)
    assert body.From == [t.NameAddress(Name="Someone", Address="someone@example.org")]
    assert body.To == [t.NameAddress(Address="mox@localhost")]
    assert body.MessageID == "<in1@example.org>"
    assert body.Text == "hello there ☺\n" and body.HTML == ""
    assert body.Structure.ContentType == "multipart/mixed"
    assert [p.ContentType for p in body.Structure.Parts] == ["text/plain", "application/pdf"]
    assert body.Structure.Parts[1].Filename == "doc.pdf"
    assert body.Meta.MailFrom == "bounce@example.org" and body.Meta.RcptTo == "mox@localhost"
    assert body.Meta.RemoteIP == "127.0.0.1" and body.Meta.MailboxName == "Inbox"
    assert body.Meta.Automated is False
    got = server.call("MessageGet", {"MsgID": body.Meta.MsgID}).json()
    assert got["Message"]["Subject"] == "incoming over smtp"
    part = server.call("MessagePartGet", {"MsgID": body.Meta.MsgID, "PartPath": [1]})
    assert part.content == b"%PDF-1.4 fake"


def dsn_message(to: str, recipient: str, action: str, status: str, diagnostic: str) -> bytes:
    return dsnlib.compose(dsnlib.DSN(
        reporting_mta="mx.example.com", sender="MAILER-DAEMON@mx.example.com", to=to, subject="bounce",
        message_id="<b1@mx.example.com>", text="could not deliver\n",
        recipients=[dsnlib.RecipientStatus(final_recipient=recipient, action=action, status=status,
                                     diagnostic_code=diagnostic)]))


def test_dsn_to_fromid_address_raises_outgoing_event(server, receiver):
    result = send(server, {"To": [{"Address": "bob@example.com"}], "Subject": "tracked", "Text": "hi",
                           "Extra": {"order": "7"}}, user="tracked@localhost")
    [sub] = result["Submissions"]
    receiver.wait("/outgoing", QueueMsgID=sub["QueueMsgID"], Event="delivered")
    bounce_to = f"tracked+{sub['FromID']}@localhost"
    bounce = dsn_message(bounce_to, "bob@example.com", "failed", "5.1.1", "550 5.1.1 no such user")
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=10) as s:
        s.sendmail("", [bounce_to], bounce)
    [hook] = receiver.wait("/outgoing", QueueMsgID=sub["QueueMsgID"], Event="failed")
    body = hook.body
    assert body["DSN"] is True and body["Suppressing"] is True
    assert (body["FromID"], body["MessageID"], body["Extra"]) == (sub["FromID"], result["MessageID"], {"order": "7"})
    assert (body["SMTPCode"], body["SMTPEnhancedCode"]) == (550, "5.1.1")
    assert server.call("SuppressionPresent", {"EmailAddress": "bob@example.com"}).json()["Present"] is True

    # Anything else to a FromID address is "unrecognized"; neither raises an incoming webhook.
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=10) as s:
        s.sendmail("bob@example.com", [bounce_to], b"Subject: out of office\r\n\r\nback monday\r\n")
    [other] = receiver.wait("/outgoing", QueueMsgID=sub["QueueMsgID"], Event="unrecognized")
    assert other.body["DSN"] is False
    assert receiver.matching("/incoming", Subject="bounce") == []
    assert receiver.matching("/incoming", Subject="out of office") == []


def test_newer_event_supersedes_undelivered_webhook(server, receiver):
    state = {"accept": False}
    receiver.decide = lambda path, body: (503 if path == "/outgoing" and body.get("Subject") == "superseded"
                                          and not state["accept"] else 200)
    result = send(server, {"To": [{"Address": "temperror@example.com"}], "Subject": "superseded", "Text": "hi"})
    queue_id = result["Submissions"][0]["QueueMsgID"]
    # The delayed webhook keeps failing until the failed event replaces it.
    server.wait_for(lambda: webhooks(server, queue_msg_id=queue_id, event="failed"))
    state["accept"] = True
    [final] = server.wait_for(lambda: [r for r in receiver.matching("/outgoing", QueueMsgID=queue_id, Event="failed")
                                       if r.status == 200])
    assert all(r.status == 503 for r in receiver.matching("/outgoing", QueueMsgID=queue_id, Event="delayed"))
    [superseded] = retired_webhooks(server, queue_msg_id=queue_id, event="delayed")
    assert superseded.superseded_by == int(final.headers["x-mox-webhook-id"])
    assert not superseded.success
    out = mox(server, "queue", "webhook", "retired", "-queuemsgid", str(queue_id)).stdout
    assert f"superseded by {final.headers['x-mox-webhook-id']}" in out


@pytest.mark.slow
def test_pending_webhook_survives_restart(new_server, receiver):
    server = new_server(configure_hooks(receiver, events=["delivered"]))
    server.start()
    receiver.decide = lambda path, body: 503 if path == "/outgoing" and body.get("Subject") == "across restart" else 200
    result = send(server, {"To": [{"Address": "x@example.com"}], "Subject": "across restart", "Text": "hi"})
    queue_id = result["Submissions"][0]["QueueMsgID"]
    receiver.wait("/outgoing", QueueMsgID=queue_id, Subject="across restart")
    server.wait_for(lambda: [h for h in webhooks(server, queue_msg_id=queue_id) if h.attempts == 1])
    server.stop()
    out = mox(server, "queue", "webhook", "list").stdout
    assert "1 webhook(s) in queue" in out and "http status 503" in out

    receiver.decide = lambda path, body: 200
    server.start()
    first, second = receiver.wait("/outgoing", 2, QueueMsgID=queue_id, Subject="across restart")
    assert (second.status, second.headers["x-mox-webhook-attempt"]) == (200, "2")
    server.wait_for(lambda: webhooks(server) == [])

    # Events = ["delivered"]: a failure raises no webhook for this account.
    failed = send(server, {"To": [{"Address": "permerror@example.org"}], "Subject": "not subscribed", "Text": "hi"})
    server.wait_for(lambda: retired(server, failed["Submissions"][0]["QueueMsgID"]))
    # A webhook would have been queued in the transaction that retired it.
    assert [h for h in webhooks(server) if h.subject == "not subscribed"] == []
    assert [h for h in retired_webhooks(server) if h.subject == "not subscribed"] == []


def test_example_command_prints_payloads_of_the_documented_types(server):
    names = mox(server, "example").stdout.split()
    assert names == ["webhook-outgoing-delivered", "webhook-outgoing-dsn-failed", "webhook-incoming-basic",
                     "webhook-change-message-new", "webhook-change-message-updated", "webhook-change-mailbox-renamed"]
    for name, typ in zip(names, [t.Outgoing, t.Outgoing, t.Incoming] + [ChangeEvent] * 3):
        out = mox(server, "example", name).stdout
        value = msgspec.json.decode(out[out.index("{"):], type=typ)
        assert value.Version == 0
    assert mox(server, "example", "nope", check=False).returncode == 2


def test_operator_drop_raises_canceled_and_webhook_drop_gives_up(server, receiver):
    from datetime import datetime, timedelta, timezone

    later = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    result = send(server, {"To": [{"Address": "later@example.com"}], "Subject": "to cancel", "Text": "hi",
                           "FutureRelease": later})
    queue_id = result["Submissions"][0]["QueueMsgID"]
    # The command runs in its own process; the running server sends the webhook it queued.
    receiver.decide = lambda path, body: 503 if path == "/outgoing" and body.get("Subject") == "to cancel" else 200
    assert "1 message(s) dropped" in mox(server, "queue", "drop", "-ids", str(queue_id)).stdout
    [hook] = receiver.wait("/outgoing", QueueMsgID=queue_id, Event="canceled")
    hook_id = hook.headers["x-mox-webhook-id"]
    server.wait_for(lambda: [h for h in webhooks(server, ids=[int(hook_id)]) if h.attempts >= 1])
    listed = mox(server, "queue", "webhook", "list", "-event", "canceled").stdout
    assert f"{hook_id} " in listed and "http status 503" in listed
    assert "1 webhook(s) dropped" in mox(server, "queue", "webhook", "drop", "-ids", hook_id).stdout
    [dropped] = retired_webhooks(server, ids=[int(hook_id)])
    assert not dropped.success and any("canceled by operator" in r.error for r in dropped.results)
    assert webhooks(server, ids=[int(hook_id)]) == []

"""Change webhooks end to end: a real HTTP receiver on loopback gets a
webhook for every change to the account's mailboxes and messages, whatever
made it: a flag set over IMAP and one set with the webapi raise the same
messageUpdated, an APPEND raises messageNew, a webapi move raises
messageDeleted and messageNew (and IMAP IDLE sessions see EXPUNGE and
EXISTS). With the server's two processes, and across restarts and a
SIGKILL between a change and its webhook, each change gets exactly one
webhook. Retired webhooks can be replayed from the command line."""

from __future__ import annotations

import smtplib
import threading
import time
from collections import Counter

import pytest

from moxpy import config as configlib
from moxpy.config import ChangeWebhook

from ..hookreceiver import Receiver
from ..imapclient import Raw, login
from ..localserve import ADDRESS, LocalServer, children
from ..queuehelp import mox, retired_webhooks

AUTHORIZATION = "Bearer change-secret"
FIELDS = ["Version", "Event", "Cursor", "Time", "MailboxID", "MailboxName", "OldName", "MsgID", "UID", "Added",
          "Removed", "Message"]


def configure_changes(receiver, events=None, processes=0):
    def configure(config):
        config.Queue.WebhookRetryFirst = 0.3
        if processes:
            config.Processes = processes
        config.Accounts["mox"].ChangeWebhook = ChangeWebhook(URL=receiver.url + "/changes",
                                                             Authorization=AUTHORIZATION, Events=events or [])

    return configure


@pytest.fixture(scope="module")
def server(tmp_path_factory, receiver):
    srv = LocalServer(str(tmp_path_factory.mktemp("changehooks")), configure_changes(receiver)).start()
    yield srv
    srv.stop()


@pytest.fixture(autouse=True)
def accept_all(receiver):
    receiver.decide = lambda path, body: 200


def append(server, subject: str, mailbox: str = "INBOX") -> None:
    imap = login(server)
    assert imap.append(mailbox, "", None, f"From: a@example.org\r\nSubject: {subject}\r\n\r\nhi\r\n".encode())[0] == "OK"
    imap.logout()


def msg_id(server, subject: str) -> int:
    return server.wait_for(lambda: [m["id"] for m in server.messages() if m["subject"] == subject])[0]


def test_imap_append_raises_message_new(server, receiver):
    cursor = server.call("ChangesSince", {"Cursor": ""}).json()["NextCursor"]
    append(server, "appended")
    new = msg_id(server, "appended")
    [hook] = receiver.wait("/changes", Event="messageNew", MsgID=new)
    assert list(hook.body) == FIELDS
    assert hook.headers["authorization"] == AUTHORIZATION and hook.headers["x-mox-webhook-attempt"] == "1"
    assert int(hook.headers["x-mox-webhook-id"]) > 0
    assert hook.body["MailboxName"] == "Inbox" and hook.body["UID"] > 0 and hook.body["Version"] == 0
    # The message in summary, as MessageList has it.
    summary = hook.body["Message"]
    assert (summary["MsgID"], summary["UID"], summary["Subject"]) == (new, hook.body["UID"], "appended")
    assert summary["From"] == [{"Name": "", "Address": "a@example.org"}] and summary["Preview"] == "hi"
    listed = server.call("MessageList", {"Mailbox": "Inbox", "PageSize": 1}).json()["Messages"]
    assert listed == [summary]
    # The same change, as ChangesSince has it.
    assert server.call("ChangesSince", {"Cursor": cursor}).json()["Changes"] == [hook.body]


def test_flag_set_over_imap_raises_the_same_webhook_as_over_the_webapi(server, receiver):
    append(server, "flag me")
    new = msg_id(server, "flag me")
    imap = login(server)
    imap.select("INBOX")
    typ, data = imap.search(None, "SUBJECT", '"flag me"')
    assert imap.store(data[0].decode(), "+FLAGS", "(\\Flagged Urgent)")[0] == "OK"
    imap.logout()
    [over_imap] = receiver.wait("/changes", Event="messageUpdated", MsgID=new)
    assert over_imap.body["Added"] == ["\\flagged", "urgent"] and over_imap.body["Removed"] == []
    assert over_imap.body["Message"] is None  # only messageNew carries the message

    response = server.call("MessageFlagsRemove", {"MsgID": new, "Flags": ["\\Flagged", "urgent"]})
    assert response.status_code == 200
    over_webapi = receiver.wait("/changes", 2, Event="messageUpdated", MsgID=new)[1]
    assert over_webapi.body["Added"] == [] and over_webapi.body["Removed"] == ["\\flagged", "urgent"]
    same = {k: v for k, v in over_imap.body.items() if k not in ("Cursor", "Time", "Added", "Removed")}
    assert {k: v for k, v in over_webapi.body.items() if k not in ("Cursor", "Time", "Added", "Removed")} == same
    # Setting what is there already changes nothing, and raises nothing.
    assert server.call("MessageFlagsRemove", {"MsgID": new, "Flags": ["\\Flagged"]}).status_code == 200
    time.sleep(1.5)
    assert len(receiver.matching("/changes", Event="messageUpdated", MsgID=new)) == 2


def idle(server, mailbox: bytes) -> Raw:
    raw = Raw(server.ports["IMAP"])
    raw.login()
    _, tagged = raw.command(b"SELECT " + mailbox)
    assert b" OK " in tagged
    raw.send(b"i1 IDLE\r\n")
    assert raw.line().startswith(b"+ ")
    return raw


def untagged_until(raw: Raw, wanted: bytes) -> list[bytes]:
    lines = []
    while not any(wanted in line for line in lines):
        lines.append(raw.line())
    return lines


def test_webapi_move_raises_deleted_and_new_and_shows_in_idle_sessions(server, receiver):
    append(server, "move me")
    new = msg_id(server, "move me")
    [arrived] = receiver.wait("/changes", Event="messageNew", MsgID=new)
    inbox, archive = idle(server, b"INBOX"), idle(server, b"Archive")
    try:
        assert server.call("MessageMove", {"MsgID": new, "DestMailboxName": "Archive"}).status_code == 200
        assert any(line.endswith(b" EXPUNGE") for line in untagged_until(inbox, b" EXPUNGE"))
        assert any(line.endswith(b" EXISTS") for line in untagged_until(archive, b" EXISTS"))
    finally:
        for raw in (inbox, archive):
            raw.close()
    [gone] = receiver.wait("/changes", Event="messageDeleted", MsgID=new)
    [moved] = receiver.wait("/changes", Event="messageNew", MsgID=new, MailboxName="Archive")
    assert (gone.body["MailboxName"], gone.body["UID"]) == ("Inbox", arrived.body["UID"])
    assert moved.body["UID"] >= 1 and moved.body["MailboxID"] != gone.body["MailboxID"]
    # One transaction: the source's change first, then the destination's, with one modseq.
    assert gone.body["Cursor"].split(".")[0] == moved.body["Cursor"].split(".")[0]
    assert int(gone.headers["x-mox-webhook-id"]) < int(moved.headers["x-mox-webhook-id"])


def test_smtp_delivery_and_mailbox_changes_raise_webhooks(server, receiver):
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=10) as s:
        s.sendmail("someone@example.org", [ADDRESS], b"From: someone@example.org\r\nSubject: over smtp\r\n\r\nhi\r\n")
    [smtp] = receiver.wait("/changes", Event="messageNew", MsgID=msg_id(server, "over smtp"))
    assert smtp.body["Message"]["Subject"] == "over smtp"
    # Send's copy in Sent is a new message there too.
    sent = server.call("Send", {"To": [{"Address": "bob@example.com"}], "Subject": "sent copy", "Text": "hi",
                                "SaveSent": True})
    assert sent.status_code == 200, sent.text
    [copy] = receiver.wait("/changes", Event="messageNew", MailboxName="Sent")
    assert copy.body["Message"]["Subject"] == "sent copy" and copy.body["Message"]["Flags"] == ["\\seen"]

    imap = login(server)
    assert imap.create("Clients/Acme")[0] == "OK"
    assert imap.rename("Clients", "Work/Clients")[0] == "OK"
    assert imap.delete("Work/Clients/Acme")[0] == "OK"
    imap.logout()
    receiver.wait("/changes", Event="mailboxDeleted", MailboxName="Work/Clients/Acme")
    events = [(r.body["Event"], r.body["MailboxName"], r.body["OldName"]) for r in receiver.matching("/changes")
              if r.body["Event"].startswith("mailbox")]
    assert events == [("mailboxNew", "Clients", ""), ("mailboxNew", "Clients/Acme", ""), ("mailboxNew", "Work", ""),
                      ("mailboxRenamed", "Work/Clients", "Clients"),
                      ("mailboxRenamed", "Work/Clients/Acme", "Clients/Acme"),
                      ("mailboxDeleted", "Work/Clients/Acme", "")]


def test_events_setting_limits_what_is_sent_and_applies_at_once(server, receiver):
    config = configlib.load(server.config.path)
    config.Accounts["mox"].ChangeWebhook.Events = ["mailboxNew"]
    configlib.save(config)
    try:
        append(server, "not sent")
        imap = login(server)
        assert imap.create("OnlyThis")[0] == "OK"
        imap.logout()
        receiver.wait("/changes", Event="mailboxNew", MailboxName="OnlyThis")
        time.sleep(1.5)
        assert not receiver.matching("/changes", Event="messageNew", MsgID=msg_id(server, "not sent"))
    finally:
        config.Accounts["mox"].ChangeWebhook.Events = []
        configlib.save(config)


def test_bad_change_webhook_settings_are_refused(server):
    config = configlib.load(server.config.path)
    for hook, fragment in ((ChangeWebhook(URL="ftp://example.org/"), "http or https"),
                           (ChangeWebhook(URL="http:///nohost"), "http or https"),
                           (ChangeWebhook(URL="http://example.org/", Events=["messageMoved"]), "unknown event")):
        config.Accounts["mox"].ChangeWebhook = hook
        with pytest.raises(configlib.ConfigError, match=fragment):
            configlib.validate(config)
    config.Accounts["mox"].ChangeWebhook = None
    config.Accounts["mox"].ChangesRetention = 0
    with pytest.raises(configlib.ConfigError, match="ChangesRetention"):
        configlib.validate(config)


def test_replay_queues_retired_webhooks_again_with_new_ids(server, receiver):
    start = time.time()
    append(server, "replay me")
    new = msg_id(server, "replay me")
    assert server.call("MessageFlagsAdd", {"MsgID": new, "Flags": ["\\Seen"]}).status_code == 200
    [first] = receiver.wait("/changes", Event="messageUpdated", MsgID=new)
    first_id = int(first.headers["x-mox-webhook-id"])
    server.wait_for(lambda: retired_webhooks(server, ids=[first_id]))

    out = mox(server, "queue", "webhook", "replay", "-since", "-1h", "-event", "messageUpdated",
              "-account", "mox").stdout
    again = receiver.wait("/changes", 2, Event="messageUpdated", MsgID=new)[1]
    assert again.body == first.body
    assert int(again.headers["x-mox-webhook-id"]) > first_id
    assert again.headers["authorization"] == AUTHORIZATION and again.headers["x-mox-webhook-attempt"] == "1"
    assert f"{first_id} " in out and "queued again" in out and "messageNew" not in out
    # An RFC 3339 time after everything replays nothing; one before, with another filter, the appended message.
    later = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 60))
    assert "0 webhook(s) queued again" in mox(server, "queue", "webhook", "replay", "-since", later).stdout
    out = mox(server, "queue", "webhook", "replay", "-since",
              time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start - 1)), "-event", "messageNew").stdout
    receiver.wait("/changes", 2, Event="messageNew", MsgID=new)
    bad = mox(server, "queue", "webhook", "replay", "-since", "yesterday", check=False)
    assert bad.returncode == 2 and "RFC 3339" in bad.stderr


# Exactly once, with two processes, across restarts and crashes.


def feed(server, cursor: str) -> list[dict]:
    changes = []
    while True:
        page = server.call("ChangesSince", {"Cursor": cursor, "Limit": 1000}).json()
        changes += page["Changes"]
        cursor = page["NextCursor"]
        if not page["More"]:
            return changes


def assert_each_change_once(server, receiver, start: str) -> None:
    """Every change since start has its webhook, and only one (a webhook sent again after a crash has the
    same X-Mox-Webhook-ID), and there is none for anything else."""
    changes = feed(server, start)
    cursors = {c["Cursor"] for c in changes}

    def hooks() -> dict[str, set[str]]:
        by_cursor: dict[str, set[str]] = {}
        for r in receiver.matching("/changes"):
            by_cursor.setdefault(r.body["Cursor"], set()).add(r.headers["x-mox-webhook-id"])
        return by_cursor

    server.wait_for(lambda: cursors <= set(hooks()), 60)
    time.sleep(1.5)  # a rescan later: nothing more arrives
    by_cursor = hooks()
    assert set(by_cursor) == cursors
    assert [c for c, ids in by_cursor.items() if len(ids) > 1] == []
    # The same payloads, but for the message's summary, which is as it was when read.
    by_position = {c["Cursor"]: c for c in changes}

    def fixed(change: dict) -> dict:
        return dict(change, Message=change["Message"] and change["Message"]["MsgID"])

    assert all(fixed(r.body) == fixed(by_position[r.body["Cursor"]]) for r in receiver.matching("/changes"))


@pytest.mark.slow
def test_each_change_gets_one_webhook_with_two_processes_restarts_and_sigkill(new_server):
    receiver = Receiver()
    try:
        srv = new_server(configure_changes(receiver, processes=2)).start()
        assert len(children(srv.proc.pid)) == 1
        start = srv.call("ChangesSince", {"Cursor": ""}).json()["NextCursor"]

        # Changes committed by both processes at once: IMAP in the front, SMTP deliveries in the other.
        def over_smtp():
            with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=10) as s:
                for n in range(15):
                    s.sendmail("x@example.org", [ADDRESS], f"Subject: smtp {n}\r\n\r\nhi\r\n".encode())

        sender = threading.Thread(target=over_smtp)
        sender.start()
        imap = login(srv)
        for n in range(15):
            imap.append("INBOX", "", None, f"Subject: imap {n}\r\n\r\nhi\r\n".encode())
        imap.select("INBOX")
        assert imap.uid("STORE", "1:*", "+FLAGS", "(\\Seen)")[0] == "OK"
        imap.logout()
        sender.join()
        assert_each_change_once(srv, receiver, start)

        # Between a change and its webhook: the server is killed right after the front committed
        # changes, before (or while) its producer turns them into webhooks.
        imap = login(srv)
        imap.select("INBOX")
        assert imap.uid("STORE", "1:*", "+FLAGS", "(\\Flagged)")[0] == "OK"
        assert imap.create("MadeWhileStopped")[0] == "OK"
        srv.kill()

        srv.start()
        receiver.wait("/changes", Event="mailboxNew", MailboxName="MadeWhileStopped")
        assert_each_change_once(srv, receiver, start)

        # Killed at random moments while changes are being made and their webhooks sent.
        for round in range(3):
            imap = login(srv)
            for n in range(10):
                imap.append("INBOX", "", None, f"Subject: round {round} {n}\r\n\r\nhi\r\n".encode())
            imap.select("INBOX")
            assert imap.uid("STORE", "1:*", "+FLAGS" if round % 2 else "-FLAGS", "(\\Seen)")[0] == "OK"
            imap.logout()
            srv.kill()
            srv.start()
        assert_each_change_once(srv, receiver, start)
        counts = Counter({r.body["Cursor"]: r.body["Event"] for r in receiver.matching("/changes")}.values())
        assert counts["messageNew"] == 60 and counts["mailboxNew"] == 1
    finally:
        receiver.close()

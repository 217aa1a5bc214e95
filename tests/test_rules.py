"""Delivery rules as mail arrives: each field and operation, joins,
disabled rules, their order, discard, storeIn, markRead, forward (to a
second account, with loops stopped), and mail sent with the webapi to a
local address, against a real localserve over SMTP, IMAP and HTTP."""

from __future__ import annotations

import os
import smtplib
import subprocess
import sys
import time

import pytest

from moxpy.config import IncomingWebhook

from .imapclient import login
from .localserve import ADDRESS, ADMIN, ROOT, LocalServer
from .storehelp import message_file, messages
from .webapi.mailboxhelp import compose

@pytest.fixture(scope="module")
def server(tmp_path_factory, receiver):
    def configure(config):
        config.Accounts["mox"].IncomingWebhook = IncomingWebhook(URL=receiver.url + "/incoming")

    srv = LocalServer(str(tmp_path_factory.mktemp("rules")), configure).start()
    out = subprocess.run([sys.executable, os.path.join(ROOT, "mox.py"), "account", "add", "bob", "bob@localhost",
                          "-password", "bobsecret1", "-config", srv.config.path], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    yield srv
    srv.stop()


def rules(server, account: str = "mox") -> list[dict]:
    response = server.call("RuleList", {"Account": account}, **ADMIN)
    assert response.status_code == 200, response.text
    return response.json()["Rules"]


@pytest.fixture(autouse=True)
def no_rules(server):
    """Every test starts without rules, in both accounts."""
    for account in ("mox", "bob"):
        for rule in rules(server, account):
            assert server.call("RuleDelete", {"Account": account, "Name": rule["Name"]}, **ADMIN).status_code == 200


def add(server, name: str, conditions: list, kind: str, value: str = "", account: str = "mox", **fields) -> dict:
    request = {"Account": account, "Name": name, "Action": {"Kind": kind, "Value": value},
               "Conditions": [{"Field": f, "Operation": o, "Value": v} for f, o, v in conditions], **fields}
    response = server.call("RuleCreate", request, **ADMIN)
    assert response.status_code == 200, response.text
    return response.json()["Rule"]


def deliver(server, data: bytes, rcpt: str = ADDRESS) -> dict:
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=30) as smtp:
        return smtp.sendmail("sender@example.org", [rcpt], data)


def stored(server, account: str = "mox", **match) -> list[dict]:
    return [m for m in messages(server.config.data_dir(), account, server.config)
            if all(m[k] == v for k, v in match.items())]


def wait_stored(server, account: str = "mox", **match) -> dict:
    return server.wait_for(lambda: stored(server, account, **match))[0]


# A message with a value for every field, and an X-Case header naming the case; every case's message has
# the same size, as the X-Case values and Message-IDs have the same length.
def case_message(case: int) -> bytes:
    data = compose("Quarterly Report Q3", "numbers", sender="Alice <alice@example.org>", to="bob@example.com",
                   cc="Carol <carol@example.net>", message_id=f"<case-{case:03d}@test>",
                   headers={"X-Case": f"{case:03d}", "X-Spam-Flag": "YES",
                            "X-Encoded": "=?utf-8?q?Caf=C3=A9_au_lait?=", "X-Folded": "one two"})
    return data.replace(b"X-Folded: one two\r\n", b"X-Folded: one\r\n two\r\n")


TEXT_CASES = [
    ("From", "is", "ALICE@example.org", True),  # case does not matter
    ("From", "is", "Alice", False),  # the address, not the display name
    ("From", "isNot", "alice@example.org", False),
    ("From", "isNot", "dave@example.org", True),
    ("From", "contains", "@EXAMPLE.org", True),
    ("From", "notContains", "example.org", False),
    ("From", "notContains", "example.com", True),
    ("From", "matches", "*@example.*", True),
    ("From", "matches", "alice", False),  # a glob matches the whole value
    ("Subject", "is", "quarterly report q3", True),
    ("Subject", "is", "Quarterly Report", False),
    ("Subject", "contains", "report", True),
    ("Subject", "notContains", "invoice", True),
    ("Subject", "matches", "Quarterly*Q3", True),
    ("Subject", "matches", "Quarterly*Q?", False),  # only * is special
    ("AnyToOrCc", "is", "carol@example.net", True),  # Cc
    ("AnyToOrCc", "is", "BOB@example.com", True),  # To
    ("AnyToOrCc", "is", "alice@example.org", False),
    ("AnyToOrCc", "contains", "example.net", True),
    ("AnyToOrCc", "notContains", "example.com", False),
    ("AnyToOrCc", "isNot", "nobody@example.com", True),
    ("AnyToOrCc", "matches", "*@*.net", True),
    ("Header:X-Spam-Flag", "is", "yes", True),
    ("Header:x-spam-flag", "isNot", "YES", False),
    ("Header:X-Spam-Flag", "contains", "E", True),
    ("Header:X-Spam-Flag", "matches", "N*", False),
    ("Header:X-Encoded", "contains", "café AU", True),  # RFC 2047 encoded words are decoded
    ("Header:X-Folded", "is", "one two", True),  # and values unfolded
    ("Header:X-Absent", "contains", "", False),  # an absent field has no value to contain anything
    ("Header:X-Absent", "notContains", "x", True),
    ("Header:X-Absent", "isNot", "", True),
]


def test_each_text_field_and_operation(server):
    """One rule per case, each also needing its own X-Case; a case's message lands in "Hit" when its
    condition holds, else in the Inbox."""
    for case, (field, operation, value, _) in enumerate(TEXT_CASES):
        add(server, f"case {case}", [("Header:X-Case", "is", f"{case:03d}"), (field, operation, value)],
            "storeIn", "Hit")
    for case in range(len(TEXT_CASES)):
        assert deliver(server, case_message(case)) == {}
    for case, (field, operation, value, expected) in enumerate(TEXT_CASES):
        found = wait_stored(server, message_id=f"<case-{case:03d}@test>")
        assert found["mailbox"] == ("Hit" if expected else "Inbox"), (field, operation, value)


def test_size_is_that_of_the_message_as_stored(server):
    assert deliver(server, case_message(900)) == {}
    size = wait_stored(server, message_id="<case-900@test>")["size"]
    cases = [("is", size, True), ("is", size + 1, False), ("isNot", size, False), ("isNot", size - 1, True),
             ("lessThan", size, False), ("lessThan", size + 1, True), ("greaterThan", size, False),
             ("greaterThan", size - 1, True)]
    for i, (operation, value, _) in enumerate(cases):
        add(server, f"size {i}", [("Header:X-Case", "is", f"{910 + i}"), ("Size", operation, str(value))],
            "storeIn", "Sized")
    for i in range(len(cases)):
        deliver(server, case_message(910 + i))
    for i, (operation, value, expected) in enumerate(cases):
        found = wait_stored(server, message_id=f"<case-{910 + i}@test>")
        assert found["size"] == size
        assert found["mailbox"] == ("Sized" if expected else "Inbox"), (operation, value, size)


def test_and_needs_every_condition_or_one(server):
    both = [("Subject", "contains", "joined"), ("From", "is", "alice@example.org")]
    add(server, "all", both, "storeIn", "All", Join="and")
    add(server, "any", both, "storeIn", "Any", Join="or")
    deliver(server, compose("joined", sender="alice@example.org", message_id="<both@test>"))
    deliver(server, compose("joined", sender="dave@example.org", message_id="<one@test>"))
    deliver(server, compose("other", sender="dave@example.org", message_id="<none@test>"))
    assert wait_stored(server, message_id="<both@test>")["mailbox"] == "All"
    assert wait_stored(server, message_id="<one@test>")["mailbox"] == "Any"
    assert wait_stored(server, message_id="<none@test>")["mailbox"] == "Inbox"


def test_a_rule_without_conditions_matches_everything(server):
    add(server, "flag all", [], "markFlagged", Join="or")
    deliver(server, compose("anything", message_id="<everything@test>"))
    assert "\\Flagged" in wait_stored(server, message_id="<everything@test>")["flags"]


def test_a_disabled_rule_is_kept_but_not_applied(server):
    rule = add(server, "off", [("Subject", "contains", "dormant")], "storeIn", "Never", Disabled=True)
    assert rule["Disabled"] is True
    deliver(server, compose("dormant rule", message_id="<dormant@test>"))
    assert wait_stored(server, message_id="<dormant@test>")["mailbox"] == "Inbox"
    assert [r["Name"] for r in rules(server)] == ["off"]
    imap = login(server)
    try:
        assert imap.list('""', "Never")[1] == [None]
    finally:
        imap.logout()


def test_first_destination_wins_and_flags_accumulate(server):
    matching = [("Subject", "contains", "ordered")]
    add(server, "read", matching, "markRead")
    add(server, "first", matching, "storeIn", "First")
    add(server, "second", matching, "storeIn", "Second")
    add(server, "discard later", matching, "discard")
    add(server, "flag", matching, "markFlagged")
    deliver(server, compose("ordered rules", message_id="<ordered@test>"))
    found = wait_stored(server, message_id="<ordered@test>")
    assert found["mailbox"] == "First"
    # Over IMAP: the message is in First with both flags; Second was never made.
    imap = login(server)
    try:
        assert imap.select("First")[0] == "OK"
        status, data = imap.fetch("1", "(FLAGS)")
        assert status == "OK"
        assert b"\\Seen" in data[0] and b"\\Flagged" in data[0], data
        assert imap.list('""', "Second")[1] == [None]
    finally:
        imap.logout()


def test_discard_accepts_and_stores_nothing(server, receiver):
    add(server, "drop", [("Header:X-Spam-Flag", "is", "yes")], "discard")
    before = len(stored(server))
    # 250 for the sender: sendmail returns no refused recipients and raises nothing.
    assert deliver(server, compose("spam", message_id="<spam@test>", headers={"X-Spam-Flag": "YES"})) == {}
    deliver(server, compose("ham after spam", message_id="<ham@test>"))
    wait_stored(server, message_id="<ham@test>")
    assert not stored(server, message_id="<spam@test>")
    assert len(stored(server)) == before + 1
    # Incoming webhooks: for the stored message, not the discarded one.
    receiver.wait("/incoming", Subject="ham after spam")
    time.sleep(0.5)
    assert not receiver.matching("/incoming", Subject="spam")
    assert any("discarded by delivery rule" in line for line in server.output)


def test_store_in_creates_the_mailbox(server, receiver):
    add(server, "projects", [("Subject", "contains", "project x")], "storeIn", "Projects/X")
    deliver(server, compose("Project X status", message_id="<project@test>"))
    imap = login(server)
    try:
        status, listed = imap.list('""', "Projects*")
        names = [line.decode().rsplit(" ", 1)[1].strip('"') for line in listed if line]
        assert status == "OK" and "Projects" in names and "Projects/X" in names, listed
        status, count = imap.select("Projects/X", readonly=True)
        assert status == "OK" and count == [b"1"]
        status, data = imap.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert b"Project X status" in data[0][1]
    finally:
        imap.logout()
    # The incoming webhook names the mailbox the rule chose.
    [hook] = receiver.wait("/incoming", Subject="Project X status")
    assert hook.body["Meta"]["MailboxName"] == "Projects/X"


def test_mark_read_shows_seen_over_imap(server):
    add(server, "read it", [("From", "contains", "reader@")], "markRead")
    deliver(server, compose("read me", sender="reader@example.org"))
    deliver(server, compose("unread me", sender="other@example.org"))
    wait_stored(server, subject="unread me")
    imap = login(server)
    try:
        imap.select("INBOX", readonly=True)
        _, (seen,) = imap.search(None, "SEEN", "SUBJECT", '"read me"')
        _, (unseen,) = imap.search(None, "UNSEEN", "SUBJECT", '"unread me"')
        assert seen and unseen, (seen, unseen)
        status, data = imap.fetch(seen.split()[-1], "(FLAGS)")
        assert b"\\Seen" in data[0]
    finally:
        imap.logout()


def test_forward_queues_a_copy_to_another_account(server):
    add(server, "to bob", [("Subject", "contains", "for bob")], "forward", "bob@localhost")
    deliver(server, compose("report for bob", message_id="<forward@test>"))
    # The original is stored, and a copy arrives in bob's Inbox through the queue and our SMTP listener.
    assert wait_stored(server, message_id="<forward@test>")["mailbox"] == "Inbox"
    copy = wait_stored(server, "bob", message_id="<forward@test>")
    assert copy["mailbox"] == "Inbox"
    assert copy["mail_from"] == ADDRESS  # sent from the account's own address
    data = message_file_of(server, "bob", copy)
    assert b"X-Moxpy-Forwarded-By: mox@localhost\r\n" in data
    assert b"Subject: report for bob" in data


def message_file_of(server, account: str, row: dict) -> bytes:
    return message_file(server.config.data_dir(), account, row, server.config)


def test_forward_with_discard_keeps_no_original(server):
    add(server, "to bob", [("Subject", "contains", "pass on")], "forward", "bob@localhost")
    add(server, "and drop", [("Subject", "contains", "pass on")], "discard")
    deliver(server, compose("pass on only", message_id="<passon@test>"))
    wait_stored(server, "bob", message_id="<passon@test>")
    assert not stored(server, message_id="<passon@test>")


def test_forwarding_loops_stop(server):
    # mox forwards to bob, bob back to mox: mox gets the copy back once, and forwards it no more.
    add(server, "to bob", [("Subject", "contains", "ping pong")], "forward", "bob@localhost")
    add(server, "to mox", [("Subject", "contains", "ping pong")], "forward", "mox@localhost", account="bob")
    deliver(server, compose("ping pong", message_id="<loop@test>"))
    server.wait_for(lambda: len(stored(server, message_id="<loop@test>")) == 2, timeout=20)
    time.sleep(2)  # time for any further round to arrive
    assert len(stored(server, message_id="<loop@test>")) == 2
    assert len(stored(server, "bob", message_id="<loop@test>")) == 1
    assert any("forwarded by account mox before" in line for line in server.output)


def test_webapi_send_to_a_local_address_gets_the_rules(server):
    add(server, "invoices", [("Subject", "contains", "invoice")], "storeIn", "Invoices")
    add(server, "read", [("Subject", "contains", "invoice")], "markRead")
    response = server.call("Send", {"To": [{"Address": ADDRESS}], "Subject": "invoice 42", "Text": "pay"})
    assert response.status_code == 200, response.text
    found = wait_stored(server, subject="invoice 42")
    assert found["mailbox"] == "Invoices" and "\\Seen" in found["flags"]


def test_a_changed_rule_applies_to_the_next_delivery(server):
    add(server, "moving", [("Subject", "contains", "moving target")], "storeIn", "Before")
    deliver(server, compose("moving target 1"))
    assert wait_stored(server, subject="moving target 1")["mailbox"] == "Before"
    response = server.call("RuleUpdate", {"Account": "mox", "Name": "moving", "Action": {"Kind": "storeIn",
                                          "Value": "After"},
                                          "Conditions": [{"Field": "Subject", "Operation": "contains",
                                                          "Value": "moving target"}]}, **ADMIN)
    assert response.status_code == 200, response.text
    deliver(server, compose("moving target 2"))
    assert wait_stored(server, subject="moving target 2")["mailbox"] == "After"
    assert server.call("RuleDelete", {"Account": "mox", "Name": "moving"}, **ADMIN).status_code == 200
    deliver(server, compose("moving target 3"))
    assert wait_stored(server, subject="moving target 3")["mailbox"] == "Inbox"


def test_rules_of_one_account_do_not_touch_another(server):
    add(server, "bob only", [("Subject", "contains", "separate")], "discard", account="bob")
    deliver(server, compose("separate accounts", message_id="<sep-mox@test>"))
    deliver(server, compose("separate accounts", message_id="<sep-bob@test>", to="bob@localhost"),
            rcpt="bob@localhost")
    wait_stored(server, message_id="<sep-mox@test>")
    assert not stored(server, "bob", message_id="<sep-bob@test>")


@pytest.mark.slow
@pytest.mark.parametrize("processes", [1, 2])
def test_rules_in_one_process_and_in_two(new_server, processes):
    """The rules are changed where the webapi runs and applied where SMTP delivery runs: the same process
    or the other one, whose queue hands the forward to the front's worker."""
    server = new_server(lambda config: setattr(config, "Processes", processes)).start()
    try:
        add(server, "keep", [("Subject", "contains", "both ways")], "storeIn", "Kept")
        add(server, "copy", [("Subject", "contains", "both ways")], "forward", "someone@example.org")
        deliver(server, compose("both ways", message_id="<processes@test>"))
        original = wait_stored(server, message_id="<processes@test>", rcpt_to=ADDRESS)
        assert original["mailbox"] == "Kept"
        # localserve delivers the forward to its own listener, which takes every address (into mox's account,
        # where the copy, forwarded by mox already, is kept but not forwarded again).
        copy = wait_stored(server, message_id="<processes@test>", rcpt_to="someone@example.org")
        assert copy["mail_from"] == ADDRESS and copy["mailbox"] == "Kept"
        time.sleep(1)
        assert len(stored(server, message_id="<processes@test>")) == 2
    finally:
        server.stop()

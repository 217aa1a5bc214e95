"""The delivery rule methods over the real webapi: creating, changing,
ordering and removing rules, errors that name the field, who may call
them, rules kept across a restart, `mox.py rule list`, and the Sieve
export (parsed with sievelib)."""

from __future__ import annotations

import json
import os
import smtplib
import subprocess
import sys

import httpx
import pytest
from sievelib.parser import Parser

from ..localserve import ADDRESS, ADMIN, ROOT
from ..storehelp import messages
from .mailboxhelp import compose

def mox(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, os.path.join(ROOT, "mox.py"), *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)


def call(server, method: str, request: dict) -> httpx.Response:
    return server.call(method, request, **ADMIN)


def rule(name: str, conditions=(), kind: str = "markRead", value: str = "", **fields) -> dict:
    return {"Account": "mox", "Name": name, "Action": {"Kind": kind, "Value": value},
            "Conditions": [{"Field": f, "Operation": o, "Value": v} for f, o, v in conditions], **fields}


def names(server, account: str = "mox") -> list[str]:
    response = call(server, "RuleList", {"Account": account})
    assert response.status_code == 200, response.text
    listed = response.json()["Rules"]
    assert [r["Position"] for r in listed] == list(range(1, len(listed) + 1))
    return [r["Name"] for r in listed]


@pytest.fixture(autouse=True)
def no_rules(server):
    for name in names(server):
        assert call(server, "RuleDelete", {"Account": "mox", "Name": name}).status_code == 200


def test_create_list_update_delete(server):
    response = call(server, "RuleCreate", rule("spam", [("header:x-spam-flag", "IS", "YES")], "STOREIN", "inbox/Spam"))
    assert response.status_code == 200, response.text
    # Stored in the documented spelling: field, operation and kind names, the inbox as "Inbox".
    assert response.json() == {"Rule": {
        "Name": "spam", "Join": "and", "Disabled": False,
        "Conditions": [{"Field": "Header:x-spam-flag", "Operation": "is", "Value": "YES"}],
        "Action": {"Kind": "storeIn", "Value": "Inbox/Spam"}, "Position": 1}}
    assert call(server, "RuleCreate", rule("big", [("Size", "greaterThan", "1000")], "markFlagged")).status_code == 200
    listed = call(server, "RuleList", {"Account": "mox"}).json()
    assert [r["Name"] for r in listed["Rules"]] == ["spam", "big"] and listed["Sieve"] == ""

    # An update replaces the rule in its place, and may rename it.
    response = call(server, "RuleUpdate", {**rule("spam", [("Subject", "contains", "viagra")], "discard"),
                                           "NewName": "pills", "Disabled": True})
    assert response.status_code == 200, response.text
    assert response.json()["Rule"]["Position"] == 1 and response.json()["Rule"]["Disabled"] is True
    assert names(server) == ["pills", "big"]
    listed = call(server, "RuleList", {"Account": "mox"}).json()["Rules"]
    assert listed[0]["Conditions"] == [{"Field": "Subject", "Operation": "contains", "Value": "viagra"}]
    assert listed[0]["Action"] == {"Kind": "discard", "Value": ""}

    assert call(server, "RuleDelete", {"Account": "mox", "Name": "pills"}).status_code == 200
    assert names(server) == ["big"]


def test_positions(server):
    for name in ("a", "b", "c"):
        assert call(server, "RuleCreate", rule(name)).status_code == 200
    assert call(server, "RuleCreate", rule("first", Position=1)).json()["Rule"]["Position"] == 1
    assert call(server, "RuleCreate", rule("middle", Position=3)).json()["Rule"]["Position"] == 3
    assert names(server) == ["first", "a", "middle", "b", "c"]
    assert call(server, "RuleUpdate", rule("c", Position=1)).json()["Rule"]["Position"] == 1
    assert call(server, "RuleUpdate", rule("first", Position=5)).json()["Rule"]["Position"] == 5
    assert names(server) == ["c", "a", "middle", "b", "first"]
    # An update without Position keeps the place.
    assert call(server, "RuleUpdate", rule("middle", kind="markFlagged")).json()["Rule"]["Position"] == 3
    assert call(server, "RuleDelete", {"Account": "mox", "Name": "a"}).status_code == 200
    assert names(server) == ["c", "middle", "b", "first"]
    response = call(server, "RuleCreate", rule("far", Position=6))
    assert response.status_code == 400 and response.json()["Code"] == "user"
    assert response.json()["Message"].startswith("Position: ")
    response = call(server, "RuleUpdate", rule("b", Position=5))
    assert response.status_code == 400 and response.json()["Message"].startswith("Position: ")
    assert names(server) == ["c", "middle", "b", "first"]


# (request changes, the field the error names)
INVALID = [
    ({"Account": ""}, "Account"),
    ({"Account": "nobody"}, "Account"),
    ({"Name": ""}, "Name"),
    ({"Name": "x" * 201}, "Name"),
    ({"Name": "tab\there"}, "Name"),
    ({"Join": "xor"}, "Join"),
    ({"Conditions": [{"Field": "Body", "Operation": "is", "Value": "x"}]}, "Conditions[0].Field"),
    ({"Conditions": [{"Field": "Header:", "Operation": "is", "Value": "x"}]}, "Conditions[0].Field"),
    ({"Conditions": [{"Field": "Header:Two Words", "Operation": "is", "Value": "x"}]}, "Conditions[0].Field"),
    ({"Conditions": [{"Field": "Subject", "Operation": "is", "Value": "x"},
                     {"Field": "Subject", "Operation": "startsWith", "Value": "x"}]}, "Conditions[1].Operation"),
    ({"Conditions": [{"Field": "Size", "Operation": "contains", "Value": "10"}]}, "Conditions[0].Operation"),
    ({"Conditions": [{"Field": "From", "Operation": "lessThan", "Value": "10"}]}, "Conditions[0].Operation"),
    ({"Conditions": [{"Field": "Size", "Operation": "is", "Value": "ten"}]}, "Conditions[0].Value"),
    ({"Conditions": [{"Field": "Size", "Operation": "is", "Value": "-1"}]}, "Conditions[0].Value"),
    ({"Conditions": [{"Field": "Subject", "Operation": "is", "Value": "a\nb"}]}, "Conditions[0].Value"),
    ({"Conditions": [{"Field": "Subject", "Operation": "is", "Value": "x" * 1001}]}, "Conditions[0].Value"),
    ({"Conditions": [{"Field": "Subject", "Operation": "is", "Value": "x"}] * 51}, "Conditions"),
    ({"Action": {"Kind": "bounce"}}, "Action.Kind"),
    ({"Action": {"Kind": "storeIn"}}, "Action.Value"),
    ({"Action": {"Kind": "storeIn", "Value": "a//b"}}, "Action.Value"),
    ({"Action": {"Kind": "storeIn", "Value": "Star*"}}, "Action.Value"),
    ({"Action": {"Kind": "forward"}}, "Action.Value"),
    ({"Action": {"Kind": "forward", "Value": "not an address"}}, "Action.Value"),
    ({"Action": {"Kind": "forward", "Value": ADDRESS}}, "Action.Value"),  # straight back to the account
    ({"Action": {"Kind": "markRead", "Value": "Inbox"}}, "Action.Value"),
    ({"Position": -1}, "Position"),
]


def test_invalid_rules_name_the_field(server):
    for changes, field in INVALID:
        request = {**rule("bad", [("Subject", "is", "x")]), **changes}
        for method in ("RuleCreate", "RuleUpdate"):
            response = call(server, method, request)
            assert response.status_code == 400, (changes, response.text)
            body = response.json()
            # RuleUpdate checks the rule before looking it up: the same error, though "bad" does not exist.
            assert body["Code"] == "user", (changes, body)
            assert body["Message"].startswith(field + ": "), (changes, body)
    assert names(server) == []


def test_names_are_unique_and_must_exist(server):
    assert call(server, "RuleCreate", rule("once")).status_code == 200
    assert call(server, "RuleCreate", rule("other")).status_code == 200
    response = call(server, "RuleCreate", rule("once"))
    assert response.status_code == 400 and response.json()["Code"] == "ruleExists"
    assert response.json()["Message"].startswith("Name: ")
    response = call(server, "RuleUpdate", {**rule("once"), "NewName": "other"})
    assert response.status_code == 400 and response.json()["Code"] == "ruleExists"
    assert response.json()["Message"].startswith("NewName: ")
    for method, request in (("RuleUpdate", rule("absent")), ("RuleDelete", {"Account": "mox", "Name": "absent"})):
        response = call(server, method, request)
        assert response.status_code == 400 and response.json()["Code"] == "ruleNotFound", response.text
        assert response.json()["Message"].startswith("Name: ")
    response = call(server, "RuleList", {"Account": "mox", "Format": "yaml"})
    assert response.status_code == 400 and response.json()["Message"].startswith("Format: ")


def test_only_admin_credentials(server):
    # The account's own password, and its tokens without admin, are refused before anything is done.
    response = server.call("RuleCreate", rule("mine"))
    assert response.status_code == 403 and response.json()["Code"] == "permissionDenied"
    token = server.call("TokenCreate", {"Scopes": ["read", "modify", "send", "tokens", "suppressions",
                                                   "read.body"]}).json()["Token"]
    for method, request in (("RuleCreate", rule("mine")), ("RuleList", {"Account": "mox"}),
                            ("RuleUpdate", rule("mine")), ("RuleDelete", {"Account": "mox", "Name": "mine"})):
        response = httpx.post(server.base_url + method, data={"request": json.dumps(request)},
                              headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert response.status_code == 403 and response.json()["Code"] == "permissionDenied", method
    assert names(server) == []
    # A token with scope admin may.
    out = mox("token", "add", "mox", "-scope", "admin", "-config", server.config.path)
    admin = out.stdout.splitlines()[-1]
    response = httpx.post(server.base_url + "RuleCreate", data={"request": json.dumps(rule("by token"))},
                          headers={"Authorization": f"Bearer {admin}"}, timeout=30)
    assert response.status_code == 200, response.text
    assert names(server) == ["by token"]


RULE_SET = [
    rule("spam", [("Header:X-Spam-Flag", "is", "YES")], "storeIn", "Junk"),
    rule("read newsletters", [("From", "matches", "*@news.example.org"), ("Subject", "contains", "weekly")],
         "markRead", Join="or"),
    rule("boss", [("AnyToOrCc", "isNot", "team@example.org"), ("From", "is", "boss@example.org")], "markFlagged"),
    rule("copy big", [("Size", "greaterThan", "1000000")], "forward", "archive@example.org"),
    rule("quotes", [("Subject", "is", 'say "hi" \\o/'), ("Subject", "matches", "why?*\\*")], "storeIn",
         "Odd/Quotes", Join="or"),
    rule("exactly", [("Size", "is", "1234"), ("Size", "isNot", "99"), ("Size", "lessThan", "5000")], "discard"),
    rule("old", [("Subject", "notContains", "x")], "discard", Disabled=True),
    rule("everything", [], "storeIn", "All"),
]

SIEVE = r'''# Delivery rules of account "mox", exported from moxpy.
require ["fileinto", "imap4flags", "copy"];
# rule "old" is disabled, and left out

# Flags, from every rule that matches.
if anyof (
        address :all :matches "from" "*@news.example.org",
        header :contains "subject" "weekly") {
    # rule "read newsletters"
    addflag "\\Seen";
}
if allof (
        not address :all :is ["to", "cc"] "team@example.org",
        address :all :is "from" "boss@example.org") {
    # rule "boss"
    addflag "\\Flagged";
}

# Copies, to every address of a rule that matches; the message is kept too.
if size :over 1000000 {
    # rule "copy big"
    redirect :copy "archive@example.org";
}

# Where it goes: the first rule that matches decides.
if header :is "X-Spam-Flag" "YES" {
    # rule "spam"
    fileinto "Junk";
}
elsif anyof (
        header :is "subject" "say \"hi\" \\o/",
        header :matches "subject" "why\\?*\\\\*") {
    # rule "quotes"
    fileinto "Odd/Quotes";
}
elsif allof (
        allof (not size :over 1234, not size :under 1234),
        anyof (size :over 99, size :under 99),
        size :under 5000) {
    # rule "exactly"
    discard;
}
elsif true {
    # rule "everything"
    fileinto "All";
}
'''


def test_sieve_export(server):
    for request in RULE_SET:
        assert call(server, "RuleCreate", request).status_code == 200
    response = call(server, "RuleList", {"Account": "mox", "Format": "sieve"})
    assert response.status_code == 200, response.text
    result = response.json()
    assert [r["Name"] for r in result["Rules"]] == [r["Name"] for r in RULE_SET]
    assert result["Sieve"] == SIEVE
    parser = Parser()
    assert parser.parse(result["Sieve"]), parser.error
    commands = [command.name for command in parser.result]
    assert commands == ["require", "if", "if", "if", "if", "elsif", "elsif", "elsif"]
    # The same script from the command line.
    out = mox("rule", "list", "mox", "-sieve", "-config", server.config.path)
    assert out.returncode == 0 and out.stdout == SIEVE, out.stderr


def test_sieve_parser_rejects_a_broken_script():
    # The check above can fail: sievelib refuses scripts that are not Sieve.
    parser = Parser()
    assert not parser.parse('if header :is "subject" "x" { fileinto "a" }\n')
    assert not parser.parse('if header :is "subject" "unterminated { discard; }\n')


def test_rule_list_command(server):
    assert call(server, "RuleCreate", rule("spam", [("Header:X-Spam-Flag", "is", "YES")], "storeIn", "Junk"))\
        .status_code == 200
    assert call(server, "RuleCreate", rule("off", [("Size", "lessThan", "10"), ("Subject", "contains", "é")],
                                           "discard", Join="or", Disabled=True)).status_code == 200
    out = mox("rule", "list", "mox", "-config", server.config.path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "position\tname\tstate\taction\tconditions",
        '1\tspam\tenabled\tstoreIn Junk\tHeader:X-Spam-Flag is "YES"',
        '2\toff\tdisabled\tdiscard\tSize lessThan "10" or Subject contains "é"',
    ]
    out = mox("rule", "list", "nobody", "-config", server.config.path)
    assert out.returncode == 1 and "no account 'nobody'" in out.stderr


@pytest.mark.slow
def test_rules_survive_a_restart(new_server):
    server = new_server().start()
    try:
        for request in RULE_SET[:2]:
            assert call(server, "RuleCreate", request).status_code == 200
        before = call(server, "RuleList", {"Account": "mox", "Format": "sieve"}).json()
    finally:
        server.stop()
    server.start()
    try:
        assert call(server, "RuleList", {"Account": "mox", "Format": "sieve"}).json() == before
        with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=30) as smtp:
            smtp.sendmail("x@example.org", [ADDRESS], compose("flagged", headers={"X-Spam-Flag": "YES"}))
        found = server.wait_for(lambda: [m for m in messages(server.config.data_dir(), "mox", server.config)
                                         if m["subject"] == "flagged"])
        assert found[0]["mailbox"] == "Junk"
    finally:
        server.stop()

"""The Sieve export's pieces as plain functions: quoting (RFC 5228 2.4.2),
:matches keys (2.7.1), each field and operation as a test, and every
generated test accepted by a Sieve parser (sievelib), and the scripts run
by a Sieve interpreter deciding what the rules decide."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest
from sievelib.parser import Parser

from moxpy import rules as rulelib
from moxpy import sieve
from moxpy.message.parse import parse_headers


def test_quoting_escapes_backslash_and_quote_only():
    assert sieve.quote('plain') == '"plain"'
    assert sieve.quote('a "b" \\c') == '"a \\"b\\" \\\\c"'
    assert sieve.quote("café ☺") == '"café ☺"'


def test_a_glob_keeps_star_and_escapes_the_rest_of_sieve_wildcards():
    condition = rulelib.Condition("Subject", "matches", "a?b*c\\d")
    # The key is a\?b*c\\d; quoted, each backslash doubles.
    assert sieve.condition_test(condition) == 'header :matches "subject" "a\\\\?b*c\\\\\\\\d"'


def test_each_field_and_operation_is_a_test_sieve_accepts():
    fields = ["From", "Subject", "AnyToOrCc", "Header:X-Spam-Flag"]
    made = []
    for field in fields:
        for operation in rulelib.TEXT_OPERATIONS:
            made.append(rulelib.Condition(field, operation, 'v"\\*?'))
    for operation in rulelib.SIZE_OPERATIONS:
        made.append(rulelib.Condition("Size", operation, "100"))
    for condition in made:
        rule = rulelib.check(rulelib.Rule("r", (condition,), rulelib.Action("storeIn", "X")))
        script = sieve.export([rule])
        parser = Parser()
        assert parser.parse(script), (condition, parser.error, script)


def test_negations_and_sizes():
    test = sieve.condition_test
    assert test(rulelib.Condition("From", "isNot", "a@b.c")) == 'not address :all :is "from" "a@b.c"'
    assert test(rulelib.Condition("AnyToOrCc", "notContains", "x")) == \
        'not address :all :contains ["to", "cc"] "x"'
    assert test(rulelib.Condition("Size", "greaterThan", "5")) == "size :over 5"
    assert test(rulelib.Condition("Size", "lessThan", "5")) == "size :under 5"
    assert test(rulelib.Condition("Size", "is", "5")) == "allof (not size :over 5, not size :under 5)"
    assert test(rulelib.Condition("Size", "isNot", "5")) == "anyof (size :over 5, size :under 5)"


def test_no_rules_is_a_script_that_keeps_everything():
    script = sieve.export([])
    assert script.splitlines()[1] == sieve.REQUIRE
    assert Parser().parse(script)


# What the exported script does, by a real Sieve interpreter: Dovecot Pigeonhole's sieve-test, which runs a
# script on a message and prints the actions it would take. It refuses to run as root (mail access), so as
# root it runs as nobody, on files everyone may read.

SIEVE_TEST = shutil.which("sieve-test")

MESSAGES = [
    b"From: Alice <alice@example.org>\r\nTo: bob@example.com\r\nCc: Carol <carol@example.net>\r\n"
    b"Subject: Quarterly Report Q3\r\nX-Spam-Flag: YES\r\nList-Id: <news.example.org>\r\n\r\nnumbers\r\n",
    b"From: dave@example.com\r\nTo: a@x.org, b@y.org\r\nSubject: why? \\o/ *\r\n\r\n" + b"x" * 2000 + b"\r\n",
    b"From: boss@example.org\r\nTo: team@example.org\r\nSubject: =?utf-8?q?Caf=C3=A9?= weekly\r\n"
    b"X-Spam-Flag: no\r\n\r\nhi\r\n",
]

CONDITIONS = [
    ("From", "is", "ALICE@example.org"), ("From", "isNot", "alice@example.org"), ("From", "contains", "example.com"),
    ("From", "notContains", "boss"), ("From", "matches", "*@example.*"), ("From", "matches", "alice"),
    ("Subject", "is", "quarterly report q3"), ("Subject", "contains", "weekly"), ("Subject", "notContains", "q3"),
    ("Subject", "matches", "why? \\o/ *"), ("Subject", "matches", "why\\*"), ("Subject", "matches", "*é*"),
    ("AnyToOrCc", "is", "carol@example.net"), ("AnyToOrCc", "isNot", "team@example.org"),
    ("AnyToOrCc", "contains", "y.org"), ("AnyToOrCc", "notContains", "example"), ("AnyToOrCc", "matches", "*@x.*"),
    ("Header:X-Spam-Flag", "is", "yes"), ("Header:X-Spam-Flag", "isNot", "YES"),
    ("Header:List-Id", "contains", "news"), ("Header:List-Id", "notContains", "news"),
    ("Header:X-Absent", "isNot", ""), ("Header:X-Absent", "contains", ""),
    ("Size", "greaterThan", "1000"), ("Size", "lessThan", "200"), ("Size", "isNot", "1"),
]


@pytest.fixture
def open_dir():
    """A directory of its own under the system's temporary directory (pytest's are for root alone)."""
    with tempfile.TemporaryDirectory(prefix="sieve-") as directory:
        os.chmod(directory, 0o755)
        yield pathlib.Path(directory)


def run_sieve(tmp_path, script: str, message: bytes) -> dict:
    """What sieve-test says the script does with the message: mailbox ("" for the inbox), flags (lower
    case), discard, forwards."""
    (tmp_path / "script.sieve").write_text(script)
    (tmp_path / "message.eml").write_bytes(message)
    (tmp_path / "dovecot.conf").write_text(f"mail_location = maildir:{tmp_path}/mail\n")
    for name in ("script.sieve", "message.eml", "dovecot.conf"):
        os.chmod(tmp_path / name, 0o644)
    as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
    out = subprocess.run(as_nobody + [SIEVE_TEST, "-c", str(tmp_path / "dovecot.conf"), str(tmp_path / "script.sieve"),
                                      str(tmp_path / "message.eml")], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr
    result = {"mailbox": None, "flags": set(), "discard": False, "forwards": set()}
    for line in out.stdout.splitlines():
        line = line.strip()
        if line.startswith("* store message in folder: "):
            folder = line.split(": ", 1)[1]
            result["mailbox"] = "" if folder == "INBOX" else folder
        elif line.startswith("+ add IMAP flags: "):
            result["flags"] = set(line.split(": ", 1)[1].lower().split())
        elif line == "* discard":
            result["discard"] = True
        elif line.startswith("* redirect message to: "):
            result["forwards"].add(line.split(": ", 1)[1].strip("<>").lower())
    result["discard"] = result["discard"] and result["mailbox"] is None
    return result


def ours(rules: list[rulelib.Rule], message: bytes) -> dict:
    decision = rulelib.decide(rules, parse_headers(message), len(message))
    return {"mailbox": None if decision.discard else decision.mailbox,
            "flags": set() if decision.discard else {f.lower() for f in decision.flags},
            "discard": decision.discard, "forwards": {a.lower() for a in decision.forwards}}


def checked(name: str, conditions, kind: str, value: str = "", **fields) -> rulelib.Rule:
    return rulelib.check(rulelib.Rule(name, tuple(rulelib.Condition(*c) for c in conditions),
                                      rulelib.Action(kind, value), **fields))


@pytest.mark.skipif(SIEVE_TEST is None, reason="sieve-test (Debian package dovecot-sieve) is not installed")
def test_a_sieve_interpreter_decides_what_the_rules_decide(open_dir):
    rule_sets = []
    for condition in CONDITIONS:
        # Each condition deciding a flag, a forward and the mailbox; a second condition joined by "or".
        rule_sets.append([checked("flag", [condition], "markFlagged"),
                          checked("fwd", [condition], "forward", "copy@example.com"),
                          checked("box", [condition, ("Subject", "is", "nothing")], "storeIn", "Box", join="or"),
                          checked("drop", [], "discard")])
    rule_sets.append([
        checked("read", [("Subject", "contains", "report")], "markRead"),
        checked("first", [("Header:X-Spam-Flag", "isNot", "no")], "storeIn", "First"),
        checked("off", [], "storeIn", "Off", disabled=True),
        checked("drop", [("Size", "greaterThan", "1000")], "discard"),
        checked("second", [], "storeIn", "Second"),
        checked("flag", [("From", "contains", "boss"), ("Subject", "contains", "x")], "markFlagged"),
        checked("fwd", [("AnyToOrCc", "matches", "*.org")], "forward", "a@example.com"),
    ])
    compared = 0
    for rules in rule_sets:
        script = sieve.export(rules)
        for message in MESSAGES:
            assert run_sieve(open_dir, script, message) == ours(rules, message), (script, message)
            compared += 1
    assert compared == len(rule_sets) * len(MESSAGES)

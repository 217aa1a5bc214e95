"""moxpy.rules as plain functions: validation naming the field, and what a
set of rules decides for a message's header section and size."""

from __future__ import annotations

import time

import pytest

from moxpy import rules as rulelib
from moxpy.message.parse import parse_headers


def rule(name, conditions, kind, value="", **fields) -> rulelib.Rule:
    return rulelib.check(rulelib.Rule(name, tuple(rulelib.Condition(*c) for c in conditions),
                                      rulelib.Action(kind, value), **fields))


HEADERS = parse_headers(b"From: Alice <alice@example.org>\r\nTo: a@x.org, b@y.org\r\nSubject: Hello there\r\n"
                        b"Subject: second subject\r\n\r\nbody\r\n")


def test_check_spells_names_as_documented():
    checked = rule(" n ", [("from", "CONTAINS", "x"), ("header:list-id", "Matches", "*"), ("size", "lessthan", " 007")],
                   "storein", "INBOX/sub", join="")
    assert checked.name == "n" and checked.join == "and"
    assert [(c.field, c.operation, c.value) for c in checked.conditions] == [
        ("From", "contains", "x"), ("Header:list-id", "matches", "*"), ("Size", "lessThan", "7")]
    assert checked.action == rulelib.Action("storeIn", "Inbox/sub")


@pytest.mark.parametrize("conditions, kind, value, where", [
    ([("Subject", "near", "x")], "discard", "", "Conditions[0].Operation"),
    ([("Size", "is", "1.5")], "discard", "", "Conditions[0].Value"),
    ([("Size", "is", "١٢")], "discard", "", "Conditions[0].Value"),  # digits, but not ASCII ones
    ([], "forward", "me@example.org", "Action.Value"),
])
def test_check_names_the_field(conditions, kind, value, where):
    with pytest.raises(rulelib.RuleError) as e:
        rulelib.check(rulelib.Rule("r", tuple(rulelib.Condition(*c) for c in conditions), rulelib.Action(kind, value)),
                      own_address=lambda address: address == "me@example.org")
    assert e.value.where == where and str(e.value).startswith(where + ": ")


def test_several_values_any_for_positive_none_for_negative():
    decide = lambda *conditions: rulelib.decide([rule("r", conditions, "markRead")], HEADERS, 100).flags
    assert decide(("Subject", "is", "SECOND SUBJECT")) == ["\\Seen"]
    assert decide(("Subject", "isNot", "second subject")) == []
    assert decide(("AnyToOrCc", "matches", "b@*")) == ["\\Seen"]
    assert decide(("AnyToOrCc", "notContains", "y.org")) == []


def test_decision_order_flags_forwards():
    rules = [
        rule("fwd", [], "forward", "x@example.com"),
        rule("fwd again", [], "forward", "X@example.com"),
        rule("off", [], "storeIn", "Off", disabled=True),
        rule("drop", [("Size", "greaterThan", "99")], "discard"),
        rule("box", [], "storeIn", "Box"),
        rule("flag", [("Subject", "contains", "hello"), ("Subject", "contains", "nothing")], "markFlagged", join="or"),
        rule("read", [("Subject", "contains", "hello"), ("Subject", "contains", "nothing")], "markRead"),
    ]
    decision = rulelib.RuleSet(rules).decide(HEADERS, 100)
    assert decision.discard and decision.mailbox == ""
    assert decision.flags == ["\\Flagged"]
    assert decision.forwards == ["x@example.com"]
    assert decision.matched == ["fwd", "fwd again", "drop", "box", "flag"]
    decision = rulelib.RuleSet(rules).decide(HEADERS, 99)
    assert not decision.discard and decision.mailbox == "Box"


def test_only_star_is_a_wildcard():
    matches = lambda glob, value: rulelib.glob_matches(glob.split("*"), value)
    assert matches("a.c*", "a.cdef")
    assert not matches("a.c*", "abcdef")
    assert not matches("a?", "ab") and matches("a?", "a?")
    assert matches("a*", "a\nb")
    assert matches("*", "") and matches("**", "x") and not matches("", "x")
    assert matches("ab*ba", "aba") is False  # prefix and suffix may not share a character
    assert matches("ab*ba", "abba") and matches("*b*b*", "abba") and not matches("*b*b*b*", "abba")
    assert matches("x*y*z", "x-z-y-z") and not matches("x*y*z", "x-z-y")


def test_a_long_value_with_many_stars_is_quick():
    glob = "*a" * 40 + "*b"
    started = time.monotonic()
    assert not rulelib.glob_matches(glob.split("*"), "a" * 100_000)
    assert time.monotonic() - started < 0.5

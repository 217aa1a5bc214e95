"""The Sieve export's pieces as plain functions: quoting (RFC 5228 2.4.2),
:matches keys (2.7.1), each field and operation as a test, and every
generated test accepted by a Sieve parser (sievelib)."""

from __future__ import annotations

from sievelib.parser import Parser

from moxpy import rules as rulelib
from moxpy import sieve


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

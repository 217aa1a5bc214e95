"""Delivery rules under generated input: the one-pass glob against a
regular expression (short values, where its backtracking is harmless),
and every rule that validates exported as a script a Sieve parser
accepts."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st
from sievelib.parser import Parser

from moxpy import rules as rulelib
from moxpy import sieve

globs = st.text(alphabet="ab*?\\", max_size=8)
values = st.text(alphabet="ab?\\", max_size=10)


def reference(glob: str, value: str) -> bool:
    return re.fullmatch(".*".join(re.escape(part) for part in glob.split("*")), value, re.DOTALL) is not None


@given(glob=globs, value=values)
def test_glob_agrees_with_a_regular_expression(glob, value):
    assert rulelib.glob_matches(glob.split("*"), value) == reference(glob, value), (glob, value)


# Text without control characters (which validation refuses), with Sieve's special characters often.
texts = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")) | st.sampled_from('"\\*?'), max_size=20)
conditions = st.builds(
    rulelib.Condition,
    st.sampled_from(["From", "Subject", "AnyToOrCc", "Header:X-Spam-Flag", "Header:List-Id"]),
    st.sampled_from(rulelib.TEXT_OPERATIONS), texts) | st.builds(
    rulelib.Condition, st.just("Size"), st.sampled_from(rulelib.SIZE_OPERATIONS),
    st.integers(0, 10 ** 12).map(str))
actions = st.builds(rulelib.Action, st.just("storeIn"), st.sampled_from(["Junk", 'A "b"\\c', "Ünïcode/sub"])) | \
    st.sampled_from([rulelib.Action("discard"), rulelib.Action("markRead"), rulelib.Action("markFlagged"),
                     rulelib.Action("forward", "a@example.org")])
rules = st.builds(rulelib.Rule, texts.filter(str.strip), st.lists(conditions, max_size=3).map(tuple), actions,
                  st.sampled_from(rulelib.JOINS), st.booleans())


@given(rule_list=st.lists(rules, max_size=4))
def test_every_valid_rule_set_exports_as_sieve(rule_list):
    checked = [rulelib.check(rule) for rule in rule_list]
    script = sieve.export(checked, "mox")
    parser = Parser()
    assert parser.parse(script), (parser.error, script)

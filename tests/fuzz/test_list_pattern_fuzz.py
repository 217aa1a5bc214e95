"""The LIST matcher (RFC 3501 6.3.8) against a plain reference: the
pattern as an anchored regular expression, * as .* and % as [^/]*. The
reference backtracks, which is fine for names and patterns this short."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from moxpy.imapserver.names import DELIMITER, list_matcher

ALPHABET = "ab/*%."
names_ = st.text(alphabet="ab/.", max_size=10)
patterns = st.text(alphabet=ALPHABET, max_size=10)


def reference(pattern: str, name: str) -> bool:
    regex = "".join(".*" if c == "*" else f"[^{re.escape(DELIMITER)}]*" if c == "%" else re.escape(c)
                    for c in pattern)
    return re.fullmatch(regex, name, re.DOTALL) is not None


@given(pattern=patterns, name=names_)
def test_list_matcher_agrees_with_regex(pattern, name):
    assert list_matcher(pattern)(name) == reference(pattern, name), (pattern, name)


@given(pattern=patterns, name=names_)
def test_inbox_prefix_is_case_insensitive(pattern, name):
    # RFC 3501 5.1: INBOX in any case, also as the parent of other mailboxes.
    for spelled in ("inbox", "InBoX"):
        full = spelled + ("/" + pattern if pattern else "")
        target = "INBOX" + ("/" + name if name else "")
        assert list_matcher(full)(target) == reference("INBOX" + full[5:], target), (full, target)


@given(name=names_)
def test_star_matches_all_and_percent_stops_at_delimiter(name):
    assert list_matcher("*")(name)
    assert list_matcher("%")(name) == (DELIMITER not in name)

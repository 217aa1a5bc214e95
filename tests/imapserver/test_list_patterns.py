"""LIST patterns (RFC 3501 6.3.8) match in time proportional to name and
pattern lengths: a pattern full of wildcards cannot stall the server."""

import random
import re

from moxpy.imapserver.names import list_matcher

from ..imapclient import Raw


def reference(pattern: str):
    """The obvious matcher: a regular expression, which backtracks exponentially on some patterns."""
    first, sep, rest = pattern.partition("/")
    if first.lower() == "inbox":
        pattern = "INBOX" + sep + rest
    regex = "".join(".*" if c == "*" else "[^/]*" if c == "%" else re.escape(c) for c in pattern)
    match = re.compile(regex + r"\Z", re.DOTALL).match
    return lambda name: match(name) is not None


def test_agrees_with_the_reference_on_random_names_and_patterns():
    rng = random.Random(3501)
    for _ in range(5000):
        pattern = "".join(rng.choice("ab/*%") for _ in range(rng.randint(0, 8)))
        name = "".join(rng.choice("ab/") for _ in range(rng.randint(0, 9)))
        assert list_matcher(pattern)(name) == reference(pattern)(name), (pattern, name)


def test_percent_stops_at_the_delimiter_and_star_does_not():
    assert list_matcher("%")("Archive")
    assert not list_matcher("%")("Archive/2026")
    assert list_matcher("*")("Archive/2026")
    assert list_matcher("Arch%/%6")("Archive/2026")
    assert list_matcher("inbox/%")("INBOX/sub")


def test_fifty_wildcards_against_a_long_name_answer_at_once():
    match = list_matcher("*%" * 25 + "x")
    name = "a" * 200
    assert not match(name)
    assert match(name + "x")


def test_hostile_pattern_over_imap_while_another_session_is_served(server):
    # The clients give up after 10 s; the backtracking matcher took minutes on these patterns.
    name = "n" * 200
    first, second = Raw(server.ports["IMAP"]), Raw(server.ports["IMAP"])
    try:
        first.login()
        second.login()
        _, tagged = first.command(f'CREATE "{name}"'.encode())
        assert b"OK" in tagged
        untagged, tagged = first.command(b'LIST "" "' + b"*%" * 25 + b'x"')
        assert b"OK" in tagged and untagged == []
        untagged, tagged = first.command(b'LIST "" "' + b"*%" * 25 + b'n"')
        assert b"OK" in tagged and any(name.encode() in line for line in untagged)
        _, tagged = second.command(b"NOOP")
        assert b"OK" in tagged
        first.command(f'DELETE "{name}"'.encode())
    finally:
        first.close()
        second.close()

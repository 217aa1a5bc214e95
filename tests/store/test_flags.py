"""Flag names: parsing what clients send, and the names the store reports."""

import pytest

from moxpy.store import flags


def test_system_flags_in_any_case_and_keywords_lower_case_sorted_once():
    mask, keywords = flags.parse(["\\SEEN", "$forwarded", "Work", "work", "$Label1", "\\Flagged"])
    assert mask == flags.SEEN | flags.FLAGGED | flags.BIT["$forwarded"]
    assert keywords == ["$label1", "work"]


def test_names_are_system_flags_in_their_usual_case_and_order_then_keywords():
    mask, keywords = flags.parse(["$mdnsent", "custom", "\\deleted", "\\seen", "$junk"])
    assert flags.names(mask, keywords) == ["\\Seen", "\\Deleted", "$Junk", "$MDNSent", "custom"]
    assert flags.names(0, []) == []


def test_parse_of_names_gives_the_same_flags_back():
    mask, keywords = flags.parse(["\\Answered", "$NotJunk", "$Phishing", "\\Draft", "x"])
    assert flags.parse(flags.names(mask, keywords)) == (mask, keywords)


@pytest.mark.parametrize("word, message", [
    ("\\Bogus", 'unknown system flag "\\Bogus"'),
    ("\\Recent", 'unknown system flag "\\Recent"'),  # RFC 3501 2.3.2: the server's, not settable
    ("two words", 'invalid keyword "two words"'),
    ("caf\u00e9", 'invalid keyword "caf?"'),
    ("a(b", 'invalid keyword "a(b"'),
    ("", "invalid keyword (empty)"),
    ("x" * 100 + " y", 'invalid keyword "' + "x" * 60 + '"'),  # echoed shortened
])
def test_bad_words_are_refused_in_printable_words(word, message):
    with pytest.raises(flags.FlagError) as e:
        flags.parse(["\\Seen", word])
    assert str(e.value).startswith(message)


def test_is_system():
    assert flags.is_system("\\SEEN") and flags.is_system("$forwarded")
    assert not flags.is_system("\\Recent") and not flags.is_system("custom")

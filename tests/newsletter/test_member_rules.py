"""The pure rules of members.py: what an address and preferences must be."""

from __future__ import annotations

import pytest

from moxpy.newsletter.members import MAX_PREFERENCES, MemberError, address, check_preferences


def test_addresses_keep_their_localpart_and_lower_their_domain():
    assert address(" Jane.Doe+news@Example.ORG ") == "Jane.Doe+news@example.org"
    assert address("jan@bücher.example") == "jan@bücher.example"


@pytest.mark.parametrize("text", ["", "   ", "no-at-sign", "@example.org", "a@", "a b@example.org",
                                  "a@[192.0.2.1]", "a@-bad-.example", "x" * 65 + "@example.org",
                                  "a@" + "b" * 330, 12])
def test_bad_addresses(text):
    with pytest.raises(MemberError) as e:
        address(text)
    assert e.value.kind == MemberError.BAD_REQUEST and e.value.message.startswith("email: ")


def test_preferences_bounds():
    assert check_preferences({}) == {}
    ok = {f"k{i}": "v" * 1024 for i in range(MAX_PREFERENCES)}
    assert check_preferences(ok) == ok
    for bad in ({**ok, "one more": "v"}, {"k": "v" * 1025}, {"": "v"}, {"k" * 65: "v"}, {"k": 1},
                {"k": None}, {"k": ["v"]}, {1: "v"}, [], "lang=en", None):
        with pytest.raises(MemberError) as e:
            check_preferences(bad)
        assert e.value.kind == MemberError.BAD_REQUEST and e.value.message.startswith("preferences: ")

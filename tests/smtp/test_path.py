"""SMTP path rules: the null reverse path, SMTPUTF8, Unicode domains for reporting."""

import pytest

from moxpy.smtp.path import is_null, needs_smtputf8, unicode_path


@pytest.mark.parametrize("path,null", [("", True), ("<>", True), (None, False), ("a@example.org", False)])
def test_null_reverse_path(path, null):
    assert is_null(path) == null


def test_smtputf8_for_any_non_ascii():
    assert not needs_smtputf8("user@xn--bcher-kva.example")
    assert needs_smtputf8("user@bücher.example")
    assert needs_smtputf8("jürgen@example.org")


@pytest.mark.parametrize("path,expected", [
    ("user@xn--bcher-kva.example", "user@bücher.example"),
    ("User@Example.ORG", "User@example.org"),  # the localpart is kept as given
    ("postmaster", "postmaster"),
    ("user@a..example", "user@a..example"),  # not a domain: left as it is
    ("", ""),
])
def test_unicode_path(path, expected):
    assert unicode_path(path) == expected

"""SMTP path rules: the null reverse path, SMTPUTF8, Unicode domains for reporting."""

import pytest

from moxpy.smtp.path import PathError, is_null, needs_smtputf8, split_path_argument, unicode_path


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


@pytest.mark.parametrize("arg,null_ok,expected", [
    ("<a@example.org>", True, ("a@example.org", [])),
    (" <a@example.org> SIZE=10 BODY=8BITMIME", True, ("a@example.org", ["SIZE=10", "BODY=8BITMIME"])),
    ("<>", True, ("", [])),
    ('<"a b>c"@example.org>', False, ('"a b>c"@example.org', [])),
    ("<@relay.example,@b.example:a@example.org>", False, ("a@example.org", [])),
    ("<a@[192.0.2.1]>", False, ("a@[192.0.2.1]", [])),
    ("<a@[IPv6:2001:db8::1]>", False, ("a@[IPv6:2001:db8::1]", [])),
])
def test_split_path_argument(arg, null_ok, expected):
    assert split_path_argument(arg, null_ok=null_ok) == expected


def test_postmaster_without_domain_only_where_allowed():
    assert split_path_argument("<Postmaster>", null_ok=False, postmaster_ok=True) == ("Postmaster", [])
    with pytest.raises(PathError):
        split_path_argument("<Postmaster>", null_ok=True)


@pytest.mark.parametrize("arg,param,text", [
    ("a@example.org", False, "address must be enclosed in angle brackets"),
    ("<a@example.org", False, "missing closing angle bracket after address"),
    ("<a b@example.org>", False, "spaces are not allowed in an address"),
    ("<a@example.org>SIZE=1", False, "expected space between address and parameters"),
    ("<a@[999.1.1.1]>", False, "invalid ip address in address literal '[999.1.1.1]'"),
    ("<a@[IPv6:1.2.3.4]>", False, "invalid ip address in address literal '[IPv6:1.2.3.4]'"),
    ("<a@[192.0.2.1>", False, "unterminated address literal '[192.0.2.1'"),
    ("<@relay.example>", False, "source route without colon"),
    ("<a>", False, "address needs a localpart and a domain, separated by @"),
    ("<" + "a" * 250 + "@example.org>", False, "path longer than 256 octets"),
    ("<a@example.org> SMTPUTF8 smtputf8", True, "duplicate parameter SMTPUTF8"),
    ("<a@example.org> SIZE=", True, "malformed parameter 'SIZE='"),
    ("<a@example.org> -X", True, "malformed parameter '-X'"),
])
def test_split_path_argument_refuses(arg, param, text):
    with pytest.raises(PathError) as info:
        split_path_argument(arg, null_ok=True)
    assert (str(info.value), info.value.param) == (text, param)


def test_null_path_refused_where_not_allowed():
    with pytest.raises(PathError, match="empty address not allowed here"):
        split_path_argument("<>", null_ok=False)

"""The SMTP listeners' rules as plain functions: enhanced status codes,
Extra keys, line endings, DMARC alignment, DSN recognition, nameserver syntax."""

import pytest

from moxpy.message import parse as msgparse
from moxpy.resolver import parse_nameserver
from moxpy.smtpserver import with_enhanced_code
from moxpy.smtpserver.checks import aligned, organizational_domain
from moxpy.message.dsn import is_dsn
from moxpy.smtpserver.delivery import bare_line_ending
from moxpy.smtpserver.submission import canonical_header_key, extra_from_headers


@pytest.mark.parametrize("reply,expected", [
    ("250 OK", "250 2.0.0 OK"),
    ("503 Error: need MAIL command", "503 5.5.1 Error: need MAIL command"),
    ("552 Error: Too much mail data", "552 5.3.4 Error: Too much mail data"),
    ("250 2.1.0 sender ok", "250 2.1.0 sender ok"),  # has one already
    ("354 End data with <CR><LF>.<CR><LF>", "354 End data with <CR><LF>.<CR><LF>"),
    ("334 ", "334 "),
    ("220 Ready to start TLS", "220 Ready to start TLS"),
    ("421 4.7.0 closing", "421 4.7.0 closing"),
    ("599 odd", "599 5.0.0 odd"),
])
def test_enhanced_status_codes(reply, expected):
    assert with_enhanced_code(reply) == expected


def test_extra_keys_are_canonicalised_like_mox():
    assert canonical_header_key("user-id") == "User-Id"
    assert canonical_header_key("CAMPAIGN") == "Campaign"
    msg = msgparse.parse_headers(b"X-Mox-Extra-user-id: 42\r\nx-mox-extra-ref: a b\r\nSubject: s\r\n\r\n")
    assert extra_from_headers(msg) == {"User-Id": "42", "Ref": "a b"}
    with pytest.raises(ValueError):
        extra_from_headers(msgparse.parse_headers(b"X-Mox-Extra-A: 1\r\nX-Mox-Extra-a: 2\r\n\r\n"))


@pytest.mark.parametrize("data,bare", [
    (b"a\r\nb\r\n", False), (b"a\nb\r\n", True), (b"a\rb\r\n", True), (b"a\r\n\r\n", False), (b"x\n.\n", True)])
def test_bare_line_endings(data, bare):
    assert bare_line_ending(data) == bare


def test_alignment_uses_organizational_domains():
    assert organizational_domain("mail.example.co.uk") == "example.co.uk"
    assert organizational_domain("localhost") == "localhost"
    assert aligned("bounces.example.com", "example.com")
    assert aligned("a.example.com", "b.example.com")
    assert not aligned("example.net", "example.com")
    assert not aligned("co.uk", "example.co.uk")


def test_dsn_recognised_by_content_type_only():
    dsn = msgparse.parse_headers(b"Content-Type: multipart/report; report-type=\"Delivery-Status\"; boundary=x\r\n\r\n")
    mdn = msgparse.parse_headers(b"Content-Type: multipart/report; report-type=disposition-notification\r\n\r\n")
    assert is_dsn(dsn) and not is_dsn(mdn)


def test_nameserver_syntax():
    assert parse_nameserver("192.0.2.1") == ("192.0.2.1", 53)
    assert parse_nameserver("127.0.0.1:5353") == ("127.0.0.1", 5353)
    assert parse_nameserver("[::1]:53") == ("::1", 53)
    assert parse_nameserver("2001:db8::1") == ("2001:db8::1", 53)
    with pytest.raises(ValueError):
        parse_nameserver("dns.example")

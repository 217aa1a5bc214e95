"""Which messages are DSNs: what the header says (the stored DSN flag), and
what parse() reads (the parts, as mox reads them)."""

import pytest

from moxpy.message import dsn, parse

REPORT = (b"Content-Type: multipart/report; report-type=%s; boundary=b\r\n\r\n"
          b"--b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n"
          b"--b\r\nContent-Type: message/%s\r\n\r\nReporting-MTA: dns; example.org\r\n\r\n"
          b"Final-Recipient: rfc822; x@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n--b--\r\n")


@pytest.mark.parametrize("header,expected", [
    (b'Content-Type: multipart/report; report-type="Delivery-Status"; boundary=x', True),
    (b"Content-Type: multipart/report; report-type=global-delivery-status; boundary=x", True),
    (b"Content-Type: multipart/report; report-type=disposition-notification; boundary=x", False),  # an MDN
    (b"Content-Type: multipart/report; boundary=x", False),
    (b"Content-Type: multipart/mixed; report-type=delivery-status; boundary=x", False),
    (b"Content-Type: text/plain", False),
    (b"Subject: no content type", False),
])
def test_is_dsn_reads_the_header(header, expected):
    assert dsn.is_dsn(parse.parse_headers(header + b"\r\n\r\n")) is expected


@pytest.mark.parametrize("report_type,status_type", [
    (b"delivery-status", b"delivery-status"),
    (b"global-delivery-status", b"global-delivery-status"),
    (b"delivery-status", b"global-delivery-status"),  # RFC 6533 allows mixing
])
def test_parse_reads_dsns(report_type, status_type):
    data = REPORT % (report_type, status_type)
    assert dsn.is_dsn(parse.parse(data))
    [rcpt] = dsn.parse(data).recipients
    assert (rcpt.final_recipient, rcpt.action, rcpt.status) == ("x@example.org", "failed", "5.1.1")


def test_parse_goes_by_the_parts():
    # Without report-type the header does not say DSN, but the parts can still be read, as mox does.
    data = (REPORT % (b"x", b"delivery-status")).replace(b"report-type=x; ", b"")
    assert not dsn.is_dsn(parse.parse(data))
    assert dsn.parse(data).recipients[0].status == "5.1.1"
    # A report that says DSN but has no delivery-status part is not one that can be read.
    with pytest.raises(dsn.DSNError, match="not a DSN"):
        dsn.parse(REPORT % (b"delivery-status", b"disposition-notification"))

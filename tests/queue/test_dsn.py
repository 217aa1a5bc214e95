"""DSN composition and parsing (RFC 3464): pure functions tested with plain
data. The retry schedule is tested in tests/queue/test_backoff.py."""

from datetime import datetime, timezone

import pytest

from moxpy.message import dsn

WHEN = datetime(2024, 4, 4, 14, 29, 42, tzinfo=timezone.utc)


def make(**kwargs) -> dsn.DSN:
    fields = dict(
        reporting_mta="mail.example.org", arrival_date=WHEN, sender="postmaster@mail.example.org",
        to="app@example.org", subject="mail delivery failed", message_id="<dsn1@mail.example.org>",
        references="<orig@example.org>", text="Delivery failed.\n",
        original_headers=b"From: app@example.org\r\nSubject: hello\r\n",
        recipients=[dsn.RecipientStatus(final_recipient="bob@example.com", action="failed", status="5.1.1",
                                  status_comment="550 5.1.1 no such user (bob)", remote_mta="mx.example.com",
                                  diagnostic_code="550 5.1.1 no such user", last_attempt=WHEN)])
    fields.update(kwargs)
    return dsn.DSN(**fields)


def test_compose_then_parse_round_trips():
    data = dsn.compose(make())
    assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")
    assert b'Content-Type: multipart/report; report-type="delivery-status";' in data
    parsed = dsn.parse(data)
    assert parsed.reporting_mta == "mail.example.org"
    assert parsed.arrival_date == WHEN
    assert (parsed.sender, parsed.to, parsed.references) == ("postmaster@mail.example.org", "app@example.org",
                                                              "<orig@example.org>")
    assert parsed.text == "Delivery failed.\n"
    [r] = parsed.recipients
    assert (r.final_recipient, r.action, r.status) == ("bob@example.com", "failed", "5.1.1")
    assert r.remote_mta == "mx.example.com"
    assert r.diagnostic_code == "550 5.1.1 no such user"
    assert r.last_attempt == WHEN
    assert dsn.smtp_codes(r) == (550, "5.1.1")


def test_utf8_dsn_uses_global_types():
    data = dsn.compose(make(smtputf8=True, recipients=[
        dsn.RecipientStatus(final_recipient="bjørn@exämple.com", action="delayed", status="4.0.0",
                      will_retry_until=WHEN)]))
    assert b"message/global-delivery-status" in data and b"message/global-headers" in data
    parsed = dsn.parse(data)
    assert parsed.smtputf8
    [r] = parsed.recipients
    assert (r.final_recipient, r.action, r.will_retry_until) == ("bjørn@exämple.com", "delayed", WHEN)
    assert dsn.smtp_codes(r) == (400, "4.0.0")


def test_parse_dsn_from_another_mta():
    # As Postfix writes them: quoted boundary, 7bit parts, an extra X- field.
    data = (b"From: MAILER-DAEMON@mx.example.com (Mail Delivery System)\r\n"
            b"To: app+abc@example.org\r\nSubject: Undelivered Mail Returned to Sender\r\n"
            b"MIME-Version: 1.0\r\n"
            b'Content-Type: multipart/report; report-type=delivery-status; boundary="B1"\r\n\r\n'
            b"--B1\r\nContent-Description: Notification\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
            b"I'm sorry to have to inform you...\r\n\r\n"
            b"--B1\r\nContent-Description: Delivery report\r\nContent-Type: message/delivery-status\r\n\r\n"
            b"Reporting-MTA: dns; mx.example.com\r\nX-Postfix-Queue-ID: 4F3A1\r\n\r\n"
            b"Final-Recipient: rfc822; bob@example.com\r\nOriginal-Recipient: rfc822;bob@example.com\r\n"
            b"Action: failed\r\nStatus: 5.2.2\r\n"
            b"Diagnostic-Code: smtp; 552 5.2.2 mailbox full\r\n\r\n"
            b"--B1\r\nContent-Type: text/rfc822-headers\r\n\r\nSubject: hi\r\n\r\n--B1--\r\n")
    parsed = dsn.parse(data)
    assert parsed.reporting_mta == "mx.example.com"
    [r] = parsed.recipients
    assert (r.final_recipient, r.original_recipient, r.action, r.status) == (
        "bob@example.com", "bob@example.com", "failed", "5.2.2")
    assert dsn.smtp_codes(r) == (552, "5.2.2")
    assert parsed.text.startswith("I'm sorry")


@pytest.mark.parametrize("data", [
    b"Subject: not a report\r\n\r\nhello\r\n",
    b'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
    b"--B\r\nContent-Type: text/plain\r\n\r\nx\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\n"
    b"Reporting-MTA: dns; x\r\n\r\nAction: failed\r\n\r\n--B--\r\n",
])
def test_parse_refuses_non_dsns_with_a_reason(data):
    with pytest.raises(dsn.DSNError):
        dsn.parse(data)

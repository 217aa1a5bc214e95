"""localserve's failure simulation on the delivery listener: each rule
answers with the exact code at the exact SMTP command."""

import smtplib

import pytest

MESSAGE = b"Subject: simulated\r\n\r\nbody\r\n"


def smtp(server):
    return smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=10)


@pytest.mark.parametrize("localpart,code", [("temperror", 451), ("xpermerror", 550), ("a452", 452), ("b554", 554)])
def test_error_after_data(server, localpart, code):
    before = len(server.messages())
    with smtp(server) as s:
        s.ehlo()
        assert s.mail("sender@example.org")[0] == 250
        assert s.rcpt(f"{localpart}@example.com")[0] == 250
        reply_code, text = s.data(MESSAGE)
        assert reply_code == code
        assert text.startswith(f"{code // 100}.0.0 ".encode())
    assert len(server.messages()) == before


@pytest.mark.parametrize("localpart,code", [("rcpttotemperror", 451), ("rcpttopermerror", 550), ("rcptto553", 553)])
def test_error_at_rcpt(server, localpart, code):
    with smtp(server) as s:
        s.ehlo()
        assert s.mail("sender@example.org")[0] == 250
        assert s.rcpt(f"{localpart}@example.com")[0] == code


@pytest.mark.parametrize("localpart,code", [("mailfromtemperror", 451), ("mailfrompermerror", 550), ("mailfrom421", 421)])
def test_error_at_mail(server, localpart, code):
    with smtp(server) as s:
        s.ehlo()
        assert s.mail(f"{localpart}@example.org")[0] == code


def test_plain_addresses_pass(server):
    before = len(server.messages())
    with smtp(server) as s:
        assert s.sendmail("mailfrom@example.org", ["rcptto@example.com", "queue@example.com", "x600@example.com"], MESSAGE) == {}
    server.wait_for(lambda: len(server.messages()) == before + 1)

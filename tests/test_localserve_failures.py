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


# The same rules at submission (1587): the error comes at RCPT with the
# "rcptto" prefix, else after DATA; nothing is queued.

def submission(server):
    from .localserve import ADDRESS, PASSWORD

    s = smtplib.SMTP("127.0.0.1", server.submission_port, timeout=10)
    s.login(ADDRESS, PASSWORD)
    s.mail(ADDRESS)
    return s


def queued(server) -> int:
    return len(server.queue_rows("queue")) + len(server.queue_rows("retired"))


@pytest.mark.parametrize("localpart,code", [("rcpttotemperror", 451), ("rcpttopermerror", 550), ("rcptto421", 421)])
def test_submission_error_at_rcpt(server, localpart, code):
    before = queued(server)
    with submission(server) as s:
        reply, text = s.rcpt(f"{localpart}@example.com")
        assert (reply, text[:6]) == (code, f"{code // 100}.0.0 ".encode())
    assert queued(server) == before


@pytest.mark.parametrize("localpart,code", [("temperror", 451), ("permerror", 550), ("x452", 452), ("y554", 554)])
def test_submission_error_after_data(server, localpart, code):
    before = queued(server)
    with submission(server) as s:
        assert s.rcpt(f"{localpart}@example.com")[0] == 250
        reply, text = s.data(b"From: mox@localhost\r\nSubject: fail\r\n\r\nbody\r\n")
        assert (reply, text[:6]) == (code, f"{code // 100}.0.0 ".encode())
    assert queued(server) == before


@pytest.mark.parametrize("localpart,code,permanent", [
    ("queuetemperror", 451, False), ("queuepermerror", 550, True), ("queue452", 452, False), ("queue554", 554, True)])
def test_queue_prefix_fails_only_the_delivery_from_the_queue(server, localpart, code, permanent):
    rcpt = f"{localpart}@example.com"
    with submission(server) as s:
        assert s.rcpt(rcpt)[0] == 250
        reply, text = s.data(b"From: mox@localhost\r\nSubject: queued failure\r\n\r\nbody\r\n")
        assert reply == 250 and text.startswith(b"2.0.0 message queued as ")
    queue_id = int(text.decode().rsplit(" ", 1)[1])

    def attempted():
        table = "retired" if permanent else "queue"
        # The attempt is marked before it starts; its result is recorded after.
        rows = [r for r in server.queue_rows(table) if r["id"] == queue_id and r["attempts"] >= 1 and r["last_code"]]
        return rows[0] if rows else None

    entry = server.wait_for(attempted)
    assert entry["rcpt_to"] == rcpt
    assert entry["last_code"] == code
    assert entry["last_enhanced_code"] == f"{code // 100}.0.0"
    if permanent:
        assert entry["success"] == 0

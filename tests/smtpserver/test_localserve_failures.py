"""localserve's failure simulation on the delivery listener: each rule
answers with the exact code at the exact SMTP command."""

import smtplib

import pytest

from ..queuehelp import queued, retired, retired_entries

pytestmark = pytest.mark.timing  # dev.py test runs these alone

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
    from ..localserve import ADDRESS, PASSWORD

    s = smtplib.SMTP("127.0.0.1", server.submission_port, timeout=10)
    s.login(ADDRESS, PASSWORD)
    s.mail(ADDRESS)
    return s


def entry_count(server) -> int:
    return len(queued(server)) + len(retired_entries(server))


@pytest.mark.parametrize("localpart,code", [("rcpttotemperror", 451), ("rcpttopermerror", 550), ("rcptto421", 421)])
def test_submission_error_at_rcpt(server, localpart, code):
    before = entry_count(server)
    with submission(server) as s:
        reply, text = s.rcpt(f"{localpart}@example.com")
        assert (reply, text[:6]) == (code, f"{code // 100}.0.0 ".encode())
    assert entry_count(server) == before


@pytest.mark.parametrize("localpart,code", [("temperror", 451), ("permerror", 550), ("x452", 452), ("y554", 554)])
def test_submission_error_after_data(server, localpart, code):
    before = entry_count(server)
    with submission(server) as s:
        assert s.rcpt(f"{localpart}@example.com")[0] == 250
        reply, text = s.data(b"From: mox@localhost\r\nSubject: fail\r\n\r\nbody\r\n")
        assert (reply, text[:6]) == (code, f"{code // 100}.0.0 ".encode())
    assert entry_count(server) == before


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
        found = retired(server, queue_id) if permanent else next(iter(queued(server, ids=[queue_id])), None)
        # The attempt is marked before it starts; its result is recorded after.
        return found if found and found.attempts >= 1 and found.last_code else None

    entry = server.wait_for(attempted)
    assert entry.rcpt_to == rcpt
    assert entry.last_code == code
    assert entry.last_enhanced_code == f"{code // 100}.0.0"
    if permanent:
        assert not entry.success


# "timeout" localparts: the server holds the command (for an hour), without
# holding up anyone else, until the client gives up or the server stops.

STALL_CHECK = 1.5  # seconds a stalled command must stay unanswered in these tests


def stalled(c, line: str) -> bool:
    """Whether the command gets no reply within STALL_CHECK seconds."""
    import socket

    c.sock.settimeout(STALL_CHECK)
    c.send(line.encode() + b"\r\n")
    try:
        c.reply()
    except (socket.timeout, TimeoutError):
        return True
    return False


def others_are_served(server) -> None:
    with smtp(server) as s:
        s.ehlo()
        assert s.mail("sender@example.org")[0] == 250
        assert s.rcpt("someone@example.com")[0] == 250


def start_transaction(server, port: int, mail_from: str, rcpt: str | None, login: bool):
    import base64

    from ..localserve import ADDRESS, PASSWORD
    from ..rawsmtp import RawSMTP

    c = RawSMTP(port)
    c.cmd("EHLO client.example")
    if login:
        token = base64.b64encode(f"\0{ADDRESS}\0{PASSWORD}".encode()).decode()
        assert c.cmd("AUTH PLAIN " + token)[0] == 235
    if rcpt is not None:
        assert c.cmd(f"MAIL FROM:<{mail_from}>")[0] == 250
    return c


@pytest.mark.parametrize("role,mail_from,rcpt,command", [
    ("delivery", "mailfromtimeout@example.org", None, "MAIL FROM:<mailfromtimeout@example.org>"),
    ("delivery", "sender@example.org", "rcpttotimeout@example.com", "RCPT TO:<rcpttotimeout@example.com>"),
    ("delivery", "sender@example.org", "timeout@example.com", "DATA"),
    ("submission", "", "rcpttotimeout@example.com", "RCPT TO:<rcpttotimeout@example.com>"),
    ("submission", "", "xtimeout@example.com", "DATA"),
])
def test_timeout_stalls_the_command_until_the_client_gives_up(server, role, mail_from, rcpt, command):
    from ..localserve import ADDRESS

    port = server.smtp_port if role == "delivery" else server.submission_port
    c = start_transaction(server, port, mail_from or ADDRESS, rcpt, login=role == "submission")
    with c:
        if command == "DATA":
            assert c.cmd(f"RCPT TO:<{rcpt}>")[0] == 250
            assert c.cmd("DATA")[0] == 354
            command = f"From: {ADDRESS}\r\nSubject: stall\r\n\r\nbody\r\n."
        ended = len([line for line in server.output if "stall ended" in line])
        assert stalled(c, command)
        others_are_served(server)  # the event loop is not blocked
    # Disconnecting ends the stall on the server too.
    server.wait_for(lambda: len([line for line in server.output
                                 if "stall ended reason='client disconnected'" in line]) > ended)


def test_banner_says_which_address_each_prefix_applies_to(server):
    banner = " ".join("".join(server.output).split())
    assert '"timeout": no response for an hour' in banner
    assert 'a MAIL FROM address whose localpart begins with "mailfrom"' in banner
    assert 'a recipient whose localpart begins with "rcptto"' in banner


def test_timeout_at_mail_only_for_the_mail_from_address(server):
    # A recipient starting with "mailfrom" is not stalled at MAIL or RCPT; its rule applies after DATA.
    with smtp(server) as s:
        s.ehlo()
        assert s.mail("sender@example.org")[0] == 250
        assert s.rcpt("mailfromtemperror@example.com")[0] == 250
        assert s.data(MESSAGE)[0] == 451


@pytest.mark.slow
def test_stopping_the_server_ends_a_stall(new_server):
    import time

    from ..rawsmtp import RawSMTP

    srv = new_server().start()
    with RawSMTP(srv.smtp_port) as c:
        c.cmd("EHLO client.example")
        assert stalled(c, "MAIL FROM:<mailfromtimeout@example.org>")
        started = time.monotonic()
        c.sock.settimeout(10)
        srv.proc.terminate()
        # The file object gave up on its timeout; the socket still reads.
        assert c.sock.recv(200) == b"451 4.3.0 timing out command due to special localpart\r\n"
        assert srv.stop() == 0
        assert time.monotonic() - started < 5

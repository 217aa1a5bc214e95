"""Hostile input to the SMTP listeners of localserve: STARTTLS within TLS,
malformed paths and parameters in MAIL and RCPT, and a command line that
never ends. Each gets its reply, and the listener keeps serving others."""

import select
import smtplib
import ssl

import pytest

from ..heartbeat import Heartbeat
from ..localserve import ADDRESS, PASSWORD
from ..rawsmtp import RawSMTP

pytestmark = pytest.mark.timing  # dev.py test runs these alone


def assert_serving(port: int) -> None:
    """A new connection still gets its 220 greeting."""
    with RawSMTP(port) as c:
        assert c.greeting[0] == 220


def test_starttls_within_implicit_tls(server):
    context = ssl.create_default_context(cafile=server.cert_path)
    with smtplib.SMTP_SSL("127.0.0.1", server.submissions_port, context=context, timeout=10) as s:
        s.ehlo("client.example")
        assert not s.has_extn("starttls")
        code, text = s.docmd("STARTTLS")
        assert (code, text) == (503, b"5.5.1 already speaking tls")
        # The session goes on.
        assert s.login(ADDRESS, PASSWORD)[0] == 235
        assert s.noop()[0] == 250
    with smtplib.SMTP_SSL("127.0.0.1", server.submissions_port, context=context, timeout=10) as s:
        assert s.noop()[0] == 250


def test_starttls_after_starttls(server):
    with smtplib.SMTP("127.0.0.1", server.submission_port, timeout=10) as s:
        s.ehlo("client.example")
        s.starttls(context=ssl.create_default_context(cafile=server.cert_path))
        s.ehlo("client.example")
        assert not s.has_extn("starttls")
        code, text = s.docmd("STARTTLS")
        assert (code, text) == (503, b"5.5.1 already speaking tls")
        assert s.noop()[0] == 250
    assert_serving(server.submission_port)


@pytest.mark.parametrize("arg, status, reason", [
    ("<a b@localhost>", "5.1.7", "spaces are not allowed in an address"),
    ("a@localhost", "5.1.7", "address must be enclosed in angle brackets"),
    ("<a@localhost", "5.1.7", "missing closing angle bracket after address"),
    ("<u@[999.1.1.1]>", "5.1.7", "invalid ip address in address literal '[999.1.1.1]'"),
    ("<a@localhost> SMTPUTF8 SMTPUTF8", "5.5.4", "duplicate parameter SMTPUTF8"),
    ("<a@localhost> BODY=8BITMIME body=7BIT", "5.5.4", "duplicate parameter BODY"),
])
def test_malformed_mail_from(server, arg, status, reason):
    with RawSMTP(server.smtp_port) as c:
        assert c.cmd("EHLO client.example")[0] == 250
        assert c.cmd("MAIL FROM:" + arg) == (501, f"{status} {reason}")
        # The transaction can still begin.
        assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
    assert_serving(server.smtp_port)


@pytest.mark.parametrize("arg, status, reason", [
    ("<a b@localhost>", "5.1.3", "spaces are not allowed in an address"),
    ("mox@localhost", "5.1.3", "address must be enclosed in angle brackets"),
    ("<mox@localhost", "5.1.3", "missing closing angle bracket after address"),
    ("<u@[999.1.1.1]>", "5.1.3", "invalid ip address in address literal '[999.1.1.1]'"),
    ("<>", "5.1.3", "empty address not allowed here"),
    ("<mox@localhost> X-A X-a", "5.5.4", "duplicate parameter X-A"),
])
def test_malformed_rcpt_to(server, arg, status, reason):
    with RawSMTP(server.smtp_port) as c:
        assert c.cmd("EHLO client.example")[0] == 250
        assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
        assert c.cmd("RCPT TO:" + arg) == (501, f"{status} {reason}")
        assert c.cmd("RCPT TO:<mox@localhost>")[0] == 250
    assert_serving(server.smtp_port)


def test_wellformed_paths_still_accepted(server):
    with RawSMTP(server.smtp_port) as c:
        assert c.cmd("EHLO client.example")[0] == 250
        assert c.cmd('MAIL FROM:<"a b"@[127.0.0.1]> BODY=8BITMIME SMTPUTF8')[0] == 250
        assert c.cmd("RCPT TO:<@relay.example:mox@localhost>")[0] == 250
        assert c.cmd("RSET")[0] == 250
        assert c.cmd("MAIL FROM:<>")[0] == 250
        assert c.cmd("RCPT TO:<Postmaster>")[0] == 250


def assert_closed(c: RawSMTP) -> None:
    """The server has closed the connection: a further command gets no reply."""
    try:
        c.send(b"NOOP\r\n")
    except OSError:
        return
    try:
        assert c.file.readline() == b""
    except ConnectionResetError:
        pass


def test_endless_command_line(server):
    with Heartbeat(server) as beat, RawSMTP(server.smtp_port) as c:
        assert c.cmd("EHLO client.example")[0] == 250
        c.send(b"NOOP ")
        # Up to 1 MB without a line end, until the server answers.
        for _ in range(256):
            c.send(b"x" * 4096)
            if select.select([c.sock], [], [], 0.01)[0]:
                break
        assert c.reply() == (500, "5.5.2 line too long, smtp max is 512, we reached 1001")
        assert_closed(c)
    beat.check()
    assert_serving(server.smtp_port)


def test_long_command_line_with_line_end(server):
    with RawSMTP(server.smtp_port) as c:
        assert c.cmd("EHLO client.example")[0] == 250
        assert c.cmd(b"NOOP " + b"x" * 2000) == (500, "5.5.2 line too long, smtp max is 512, we reached 1001")
        assert_closed(c)
    assert_serving(server.smtp_port)


def test_command_line_over_512_with_line_end(server):
    # Within the reader's limit: aiosmtpd's own check, and the session goes on.
    with RawSMTP(server.smtp_port) as c:
        assert c.cmd("EHLO client.example")[0] == 250
        code, text = c.cmd(b"NOOP " + b"x" * 600)
        assert (code, text[:5]) == (500, "5.5.2")
        assert c.cmd("NOOP")[0] == 250

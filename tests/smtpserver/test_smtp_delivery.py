"""The delivery listener of localserve (1025), driven by smtplib, swaks and a
raw socket: extensions, limits, malformed input, smuggling, trace headers,
DKIM verification of our own signatures, and DSN recognition."""

import shutil
import smtplib
import ssl
import subprocess

import pytest

from moxpy import config as configlib
from moxpy.message import dkim as dkimlib

from ..localserve import LocalServer
from ..rawsmtp import RawSMTP

LIMIT = 200_000


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    def configure(config):
        config.MaxMessageSize = LIMIT

    server = LocalServer(str(tmp_path_factory.mktemp("delivery")), configure).start()
    yield server
    server.stop()


def smtp(srv) -> smtplib.SMTP:
    return smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=10)


def stored_since(srv, before: int) -> list[dict]:
    return srv.messages()[before:]


def test_ehlo_announces_extensions_and_no_auth(srv):
    with smtp(srv) as s:
        code, _ = s.ehlo("client.example")
        assert code == 250
        for ext in ("pipelining", "8bitmime", "smtputf8", "enhancedstatuscodes", "starttls"):
            assert s.has_extn(ext), ext
        assert s.esmtp_features["size"] == str(LIMIT)
        assert not s.has_extn("auth")


def test_delivery_adds_trace_headers_and_keeps_bytes(srv):
    before = len(srv.messages())
    msg = (b"From: Someone <someone@example.org>\r\nTo: mox@localhost\r\nSubject: trace\r\n"
           b"Message-ID: <trace-1@example.org>\r\n\r\nline one\r\n.dot line\r\n")
    with smtp(srv) as s:
        s.ehlo("client.example")
        assert s.sendmail("someone@example.org", ["mox@localhost"], msg) == {}
    [row] = stored_since(srv, before)
    stored = srv.message_file(row)
    assert stored.endswith(msg)
    head = stored[: -len(msg)]
    assert head.startswith(b"Received: from client.example ([127.0.0.1])\r\n\tby localhost with ESMTP id ")
    assert b"\r\n\tfor <mox@localhost>;\r\n" in head
    assert b"Authentication-Results: localhost;\r\n\tdkim=none;\r\n\tspf=" in head


def test_size_parameter_refused_at_mail(srv):
    with smtp(srv) as s:
        s.ehlo()
        code, text = s.docmd("MAIL", f"FROM:<a@example.org> SIZE={LIMIT + 1}")
        assert (code, text[:5]) == (552, b"5.3.4")
        code, _ = s.docmd("MAIL", f"FROM:<a@example.org> SIZE={LIMIT - 1000}")
        assert code == 250


def test_oversized_message_refused_and_nothing_stored(srv):
    before = len(srv.messages())
    body = b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * (LIMIT // 1000 + 10)
    with smtp(srv) as s:
        s.ehlo()
        assert s.mail("a@example.org")[0] == 250
        assert s.rcpt("mox@localhost")[0] == 250
        code, text = s.data(body)
        assert (code, text[:5]) == (552, b"5.3.4")
        assert s.noop()[0] == 250  # the connection goes on
    assert len(srv.messages()) == before


def test_line_too_long_in_data_refused(srv):
    before = len(srv.messages())
    with smtp(srv) as s:
        s.ehlo()
        s.mail("a@example.org")
        s.rcpt("mox@localhost")
        code, text = s.data(b"Subject: long\r\n\r\n" + b"y" * 1200 + b"\r\n")
        assert (code, text[:5]) == (500, b"5.5.2")
    assert len(srv.messages()) == before


@pytest.mark.parametrize("command,code,enhanced", [
    ("RCPT TO:<mox@localhost>", 503, "5.5.1"),  # before MAIL
    ("DATA", 503, "5.5.1"),  # before RCPT
    ("MAIL FROM:<not an address", 501, "5.1.7"),  # RFC 5321 4.1.2 syntax
    ("MAIL FROM:<a@example.org> FOO=BAR", 555, "5.5.4"),
    ("MAIL TO:<a@example.org>", 501, "5.5.4"),
    ("BOGUS", 500, "5.5.2"),
    ("EHLO not a hostname!", 501, "5.5.4"),
    ("MAIL FROM:<" + "a" * 600 + "@example.org>", 500, "5.5.2"),
])
def test_malformed_commands_get_clear_errors(srv, command, code, enhanced):
    with RawSMTP(srv.smtp_port) as c:
        assert c.cmd("EHLO client.example")[0] == 250
        got, text = c.cmd(command)
        assert (got, text.split(" ")[0]) == (code, enhanced), text
        assert c.cmd("NOOP")[0] == 250


def test_malformed_recipient_refused(srv):
    with smtp(srv) as s:
        s.ehlo()
        s.mail("a@example.org")
        code, text = s.docmd("RCPT", "TO:<no-at-sign>")
        assert (code, text[:5]) == (501, b"5.1.3")
        code, text = s.docmd("RCPT", "TO:<Postmaster>")  # RFC 5321 4.1.1.3
        assert code == 250


def test_pipelined_commands_are_answered_in_order(srv):
    before = len(srv.messages())
    with RawSMTP(srv.smtp_port) as c:
        c.cmd("EHLO client.example")
        c.send(b"MAIL FROM:<p@example.org>\r\nRCPT TO:<mox@localhost>\r\nRCPT TO:<x@elsewhere.example>\r\nDATA\r\n")
        assert [c.reply()[0] for _ in range(4)] == [250, 250, 250, 354]
        c.send(b"Subject: pipelined\r\n\r\nbody\r\n.\r\nQUIT\r\n")
        assert c.reply()[0] == 250
        assert c.reply()[0] == 221
    [row] = stored_since(srv, before)
    assert row["subject"] == "pipelined"


def test_bare_lf_cannot_smuggle_a_second_message(srv):
    before = len(srv.messages())
    with RawSMTP(srv.smtp_port) as c:
        c.cmd("EHLO client.example")
        c.cmd("MAIL FROM:<a@example.org>")
        c.cmd("RCPT TO:<mox@localhost>")
        assert c.cmd("DATA")[0] == 354
        c.send(b"Subject: first\r\n\r\nhello\n.\nMAIL FROM:<evil@example.org>\nRCPT TO:<mox@localhost>\nDATA\n"
               b"Subject: smuggled\n\nevil\n.\r\nmore\r\n.\r\n")
        code, text = c.reply()
        assert (code, text.split(" ")[0]) == (500, "5.5.2")
        assert c.cmd("NOOP")[0] == 250  # no further replies were queued up by smuggled commands
    assert len(srv.messages()) == before


def test_smtputf8_address_and_headers(srv):
    before = len(srv.messages())
    msg = "From: Søren <søren@example.org>\r\nTo: Åse <åse@localhost>\r\nSubject: blåbærsyltetøy\r\n\r\nhei\r\n".encode()
    with smtp(srv) as s:
        assert s.sendmail("søren@example.org", ["åse@localhost"], msg, mail_options=["SMTPUTF8"]) == {}
    [row] = stored_since(srv, before)
    assert srv.message_file(row).endswith(msg)
    assert row["rcpt_to"] == "åse@localhost" and row["mail_from"] == "søren@example.org"
    got = srv.call("MessageGet", {"MsgID": row["id"]}).json()
    assert got["Message"]["Subject"] == "blåbærsyltetøy"


def test_non_ascii_address_without_smtputf8_refused(srv):
    with RawSMTP(srv.smtp_port) as c:
        c.cmd("EHLO client.example")
        code, text = c.cmd("MAIL FROM:<søren@example.org>".encode())
        assert (code, text.split(" ")[0]) == (553, "5.6.7")


def test_8bitmime_body_stored_exactly(srv):
    before = len(srv.messages())
    msg = b"Subject: 8bit\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\nbl\xe5b\xe6r\r\n"
    with smtp(srv) as s:
        assert s.sendmail("a@example.org", ["mox@localhost"], msg, mail_options=["BODY=8BITMIME"]) == {}
    [row] = stored_since(srv, before)
    assert srv.message_file(row).endswith(msg)


DSN = (b"From: Mail Delivery <postmaster@example.org>\r\nTo: mox@localhost\r\nSubject: failed\r\n"
       b"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b1\r\n\r\n"
       b"--b1\r\nContent-Type: text/plain\r\n\r\ndelivery failed\r\n"
       b"--b1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; example.org\r\n\r\n"
       b"Final-Recipient: rfc822; x@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n--b1--\r\n")


def test_dsn_with_null_sender_is_marked(srv):
    before = len(srv.messages())
    with smtp(srv) as s:
        s.ehlo()
        assert s.docmd("MAIL", "FROM:<>")[0] == 250
        assert s.rcpt("mox@localhost")[0] == 250
        code, text = s.rcpt("other@localhost")
        assert (code, text[:5]) == (452, b"4.5.3")  # a bounce has one recipient
        assert s.data(DSN)[0] == 250
    [row] = stored_since(srv, before)
    meta = srv.call("MessageGet", {"MsgID": row["id"]}).json()["Meta"]
    assert meta["DSN"] is True
    assert meta["MailFrom"] == ""


def test_internationalised_dsn_is_marked(srv):
    # RFC 6522 3 and RFC 6533 3: a DSN with UTF-8 fields names its second part's type in report-type.
    before = len(srv.messages())
    utf8 = DSN.replace(b"report-type=delivery-status", b"report-type=global-delivery-status").replace(
        b"message/delivery-status", b"message/global-delivery-status")
    with smtp(srv) as s:
        s.sendmail("", ["mox@localhost"], utf8)
    [row] = stored_since(srv, before)
    assert srv.call("MessageGet", {"MsgID": row["id"]}).json()["Meta"]["DSN"] is True


def test_ordinary_message_is_not_a_dsn(srv):
    before = len(srv.messages())
    with smtp(srv) as s:
        s.sendmail("a@example.org", ["mox@localhost"], DSN.replace(b"report-type=delivery-status", b"report-type=disposition-notification"))
    [row] = stored_since(srv, before)
    assert srv.call("MessageGet", {"MsgID": row["id"]}).json()["Meta"]["DSN"] is False


def test_mail_signed_with_our_keys_verifies(srv):
    config = configlib.load(srv.config.path)
    msg = b"From: mox@localhost\r\nTo: someone@example.com\r\nSubject: signed here\r\n\r\nsigned body\r\n"
    signed = dkimlib.signature_headers(config, msg, "localhost") + msg
    before = len(srv.messages())
    with smtp(srv) as s:
        s.ehlo("localhost")
        assert s.sendmail("mox@localhost", ["someone@example.com"], signed) == {}
    [row] = stored_since(srv, before)
    meta = srv.call("MessageGet", {"MsgID": row["id"]}).json()["Meta"]
    assert meta["DKIMVerifiedDomains"] == ["localhost"]
    assert meta["MailFromValidated"] is True
    assert meta["MsgFromValidated"] is True

    # A changed body no longer verifies, and the From is no longer validated by DKIM.
    before = len(srv.messages())
    with smtp(srv) as s:
        s.sendmail("someone@example.org", ["someone@example.com"], signed.replace(b"signed body", b"other body"))
    [row] = stored_since(srv, before)
    meta = srv.call("MessageGet", {"MsgID": row["id"]}).json()["Meta"]
    assert meta["DKIMVerifiedDomains"] == []
    assert meta["MsgFromValidated"] is False


def test_starttls_on_delivery(srv):
    before = len(srv.messages())
    with smtp(srv) as s:
        s.starttls(context=ssl.create_default_context(cafile=srv.cert_path))
        assert s.sendmail("a@example.org", ["mox@localhost"], b"Subject: tls\r\n\r\nx\r\n") == {}
    [row] = stored_since(srv, before)
    assert b" with ESMTPS id " in srv.message_file(row)


@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks not installed (Debian package swaks)")
def test_swaks_delivery(srv):
    before = len(srv.messages())
    out = subprocess.run(
        ["swaks", "--server", "127.0.0.1", "--port", str(srv.smtp_port), "--from", "swaks@example.org",
         "--to", "anyone@example.net", "--header", "Subject: from swaks", "--body", "swaks body"],
        capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "<-  250 2.0.0 message delivered" in out.stdout
    [row] = stored_since(srv, before)
    assert row["subject"] == "from swaks" and row["rcpt_to"] == "anyone@example.net"

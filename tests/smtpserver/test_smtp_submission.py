"""Submission on localserve (1587 plain with STARTTLS, 1465 implicit TLS):
AUTH PLAIN and LOGIN with smtplib and swaks, what an account may send as,
Message-Id/Date/DKIM added, one queue entry per recipient, Extra from
X-Mox-Extra- headers, FromID tracking, and errors that leave nothing queued."""

import shutil
import smtplib
import ssl
import subprocess

import pytest

from moxpy import config as configlib

from ..localserve import ADDRESS, PASSWORD, LocalServer
from ..queuehelp import queued, retired_entries

LIMIT = 100_000
TRACKED = "tracked@localhost"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    def configure(config):
        config.MaxMessageSize = LIMIT
        account = config.Accounts["mox"]
        account.Destinations[TRACKED] = configlib.Destination()
        account.FromIDLoginAddresses = [TRACKED]

    server = LocalServer(str(tmp_path_factory.mktemp("submission")), configure).start()
    yield server
    server.stop()


def message(subject: str, to: str = "friend@example.com", sender: str = ADDRESS, extra: str = "") -> bytes:
    return f"From: Mox <{sender}>\r\nTo: {to}\r\nSubject: {subject}\r\n{extra}\r\nbody of {subject}\r\n".encode()


def submit(srv) -> smtplib.SMTP:
    s = smtplib.SMTP("127.0.0.1", srv.submission_port, timeout=10)
    s.ehlo("client.example")
    return s


def entries(srv) -> list:
    return queued(srv) + retired_entries(srv)


def delivered(srv, subject: str) -> dict:
    """The message as it arrived in the Inbox after the queue delivered it."""
    return srv.wait_for(lambda: next((r for r in srv.messages() if r["subject"] == subject), None))


def test_auth_plain_and_delivery_through_queue(srv):
    with submit(srv) as s:
        assert "PLAIN" in s.esmtp_features["auth"]
        code, text = s.login(ADDRESS, PASSWORD)  # smtplib prefers PLAIN here
        assert (code, text) == (235, b"2.7.0 Authentication successful")
        refused = s.sendmail(ADDRESS, ["friend@example.com"], message("plain auth"))
        assert refused == {}
    row = delivered(srv, "plain auth")
    data = srv.message_file(row)
    # Added at submission: Message-Id and Date; DKIM-signed with both localhost keys.
    assert b"\r\nMessage-Id: <" in data and b"\r\nDate: " in data
    # localserve signs with its ed25519 key only (RSA signing is covered with the production config).
    assert data.count(b"DKIM-Signature: ") == 1 and b"a=ed25519-sha256" in data
    meta = srv.call("MessageGet", {"MsgID": row["id"]}).json()["Meta"]
    assert meta["DKIMVerifiedDomains"] == ["localhost"]
    assert meta["MsgFromValidated"] is True and meta["MailFromValidated"] is True
    assert meta["MailFrom"] == ADDRESS and meta["RcptTo"] == "friend@example.com"


def test_auth_login(srv):
    with submit(srv) as s:
        s.user, s.password = ADDRESS, PASSWORD
        code, _ = s.auth("LOGIN", s.auth_login, initial_response_ok=False)
        assert code == 235
        assert s.sendmail(ADDRESS, ["friend@example.com"], message("login auth")) == {}
    delivered(srv, "login auth")


def test_message_id_and_date_kept_when_present(srv):
    extra = "Message-ID: <mine@example.com>\r\nDate: Mon, 2 Jan 2023 10:00:00 +0000\r\n"
    with submit(srv) as s:
        s.login(ADDRESS, PASSWORD)
        s.sendmail(ADDRESS, ["friend@example.com"], message("own id", extra=extra))
    data = srv.message_file(delivered(srv, "own id"))
    assert data.count(b"Message-Id:") + data.count(b"Message-ID:") == 1
    assert b"Message-ID: <mine@example.com>" in data
    assert data.count(b"\r\nDate: ") == 1


def test_one_queue_entry_per_recipient_with_extra(srv):
    before = {e.id for e in entries(srv)}
    rcpts = ["a@example.com", "b@example.org", "c@example.net"]
    extra = "X-Mox-Extra-user-id: 42\r\nX-Mox-Extra-Campaign: spring\r\n"
    with submit(srv) as s:
        s.login(ADDRESS, PASSWORD)
        s.mail(ADDRESS)
        for r in rcpts:
            s.rcpt(r)
        code, text = s.data(message("three", to=", ".join(rcpts), extra=extra))
        assert code == 250 and text.startswith(b"2.0.0 message queued as ")
    new = srv.wait_for(lambda: [e for e in retired_entries(srv) if e.id not in before and e.subject == "three"]
                       if len([e for e in retired_entries(srv) if e.subject == "three"]) == 3 else None)
    assert sorted(e.rcpt_to for e in new) == rcpts
    assert len({e.message_id for e in new}) == 1
    assert all(e.extra == {"User-Id": "42", "Campaign": "spring"} for e in new)
    assert {str(e.id) for e in new} == set(text.decode().rsplit(" ", 1)[1].split(","))


def test_duplicate_extra_key_refused(srv):
    before = len(entries(srv))
    extra = "X-Mox-Extra-Key: 1\r\nX-Mox-Extra-key: 2\r\n"
    with submit(srv) as s:
        s.login(ADDRESS, PASSWORD)
        with pytest.raises(smtplib.SMTPDataError) as e:
            s.sendmail(ADDRESS, ["friend@example.com"], message("dup", extra=extra))
        assert (e.value.smtp_code, e.value.smtp_error[:5]) == (554, b"5.6.0")
    assert len(entries(srv)) == before


def test_implicit_tls_with_generated_certificate(srv):
    context = ssl.create_default_context(cafile=srv.cert_path)
    with smtplib.SMTP_SSL("127.0.0.1", srv.submissions_port, context=context, timeout=10) as s:
        s.ehlo()
        assert not s.has_extn("starttls")
        assert s.login(ADDRESS, PASSWORD)[0] == 235
        assert s.sendmail(ADDRESS, ["friend@example.com"], message("over tls")) == {}
    data = srv.message_file(delivered(srv, "over tls"))
    assert b"with ESMTPSA id" in data  # the submission hop's Received header


def test_starttls_then_auth(srv):
    with submit(srv) as s:
        s.starttls(context=ssl.create_default_context(cafile=srv.cert_path))
        s.ehlo()
        assert s.login(ADDRESS, PASSWORD)[0] == 235
        assert s.sendmail(ADDRESS, ["friend@example.com"], message("starttls")) == {}
    delivered(srv, "starttls")


def test_wrong_password_refused_and_nothing_queued(srv):
    before = len(entries(srv))
    with submit(srv) as s:
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            s.login(ADDRESS, "wrong")
        assert (e.value.smtp_code, e.value.smtp_error[:5]) == (535, b"5.7.8")
        code, text = s.docmd("MAIL", f"FROM:<{ADDRESS}>")
        assert (code, text[:5]) == (530, b"5.7.0")
    with submit(srv) as s:
        with pytest.raises(smtplib.SMTPAuthenticationError):
            s.login("nobody@localhost", PASSWORD)
    assert len(entries(srv)) == before


def test_relay_without_auth_refused(srv):
    before = len(entries(srv))
    with submit(srv) as s:
        code, text = s.docmd("MAIL", f"FROM:<{ADDRESS}>")
        assert (code, text[:5]) == (530, b"5.7.0")
        code, text = s.docmd("RCPT", "TO:<friend@example.com>")
        assert (code, text[:5]) == (530, b"5.7.0")
        code, text = s.docmd("DATA")
        assert (code, text[:5]) == (530, b"5.7.0")
    assert len(entries(srv)) == before


def test_only_own_addresses_as_sender(srv):
    before = len(entries(srv))
    with submit(srv) as s:
        s.login(ADDRESS, PASSWORD)
        code, text = s.mail("someone@example.com")
        assert (code, text[:5]) == (550, b"5.7.1")
        # The catchall separator form of our own address is ours too.
        assert s.mail("mox+newsletter@localhost")[0] == 250
        s.rcpt("friend@example.com")
        code, text = s.data(message("forged", sender="ceo@example.com"))
        assert (code, text[:5]) == (550, b"5.7.1")
        s.rset()
        s.mail(ADDRESS)
        s.rcpt("friend@example.com")
        code, text = s.data(b"To: friend@example.com\r\nSubject: no from\r\n\r\nx\r\n")
        assert (code, text[:5]) == (550, b"5.6.0")
    assert len(entries(srv)) == before


def test_oversized_submission_refused(srv):
    before = len(entries(srv))
    big = message("big", extra="X-Pad: " + "p" * 900 + "\r\n") + (b"z" * 990 + b"\r\n") * (LIMIT // 990)
    with submit(srv) as s:
        s.login(ADDRESS, PASSWORD)
        code, text = s.docmd("MAIL", f"FROM:<{ADDRESS}> SIZE={LIMIT + 1}")
        assert (code, text[:5]) == (552, b"5.3.4")
        s.mail(ADDRESS)
        s.rcpt("friend@example.com")
        code, text = s.data(big)
        assert (code, text[:5]) == (552, b"5.3.4")
    assert len(entries(srv)) == before


def test_fromid_for_tracked_login(srv):
    with submit(srv) as s:
        s.login(TRACKED, PASSWORD)
        assert s.sendmail(TRACKED, ["x@example.com", "y@example.com"], message("tracked", sender=TRACKED)) == {}
    rows = srv.wait_for(lambda: [e for e in retired_entries(srv) if e.subject == "tracked"][1:] and
                        [e for e in retired_entries(srv) if e.subject == "tracked"])
    ids = {e.from_id for e in rows}
    assert len(ids) == 2 and "" not in ids
    for e in rows:
        assert e.mail_from == f"tracked+{e.from_id}@localhost"

    # A client may bring its own FromID, for one recipient.
    with submit(srv) as s:
        s.login(TRACKED, PASSWORD)
        assert s.sendmail("tracked+order-17@localhost", ["z@example.com"], message("own fromid", sender=TRACKED)) == {}
        s.mail("tracked+order-18@localhost")
        s.rcpt("a@example.com")
        s.rcpt("b@example.com")
        code, text = s.data(message("two with own fromid", sender=TRACKED))
        assert (code, text[:5]) == (554, b"5.5.3")
    [row] = srv.wait_for(lambda: [e for e in retired_entries(srv) if e.subject == "own fromid"])
    assert row.from_id == "order-17" and row.mail_from == "tracked+order-17@localhost"


@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks not installed (Debian package swaks)")
def test_swaks_submission(srv):
    out = subprocess.run(
        ["swaks", "--server", "127.0.0.1", "--port", str(srv.submission_port), "--auth", "PLAIN",
         "--auth-user", ADDRESS, "--auth-password", PASSWORD, "--from", ADDRESS, "--to", "friend@example.com",
         "--header", "Subject: swaks submission", "--body", "from swaks"],
        capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "<-  235 2.7.0 Authentication successful" in out.stdout
    delivered(srv, "swaks submission")


def test_failed_logins_are_throttled(new_server):
    srv = new_server().start()
    with submit(srv) as s:
        s.user, s.password = ADDRESS, "wrong"
        for _ in range(10):  # per address per minute: moxpy.auth.FAILURE_LIMITS
            with pytest.raises(smtplib.SMTPAuthenticationError) as e:
                s.auth("PLAIN", s.auth_plain)
            assert e.value.smtp_code == 535
    with submit(srv) as s:
        # Now refused without checking, even with the right password.
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            s.login(ADDRESS, PASSWORD)
        assert (e.value.smtp_code, e.value.smtp_error[:5]) == (454, b"4.7.0")


def scram_login(port: int, username: str, password: str) -> tuple[int, str]:
    """AUTH SCRAM-SHA-256 with scramp's client (smtplib has no SCRAM); the final reply."""
    import base64

    import scramp

    from ..rawsmtp import RawSMTP

    client = scramp.ScramClient(["SCRAM-SHA-256"], username, password)
    b64 = lambda text: base64.b64encode(text.encode()).decode()  # noqa: E731
    with RawSMTP(port) as c:
        code, text = c.cmd("EHLO client.example")
        assert "SCRAM-SHA-256" in text
        code, text = c.cmd("AUTH SCRAM-SHA-256 " + b64(client.get_client_first()))
        assert code == 334
        client.set_server_first(base64.b64decode(text).decode())
        code, text = c.cmd(b64(client.get_client_final()))
        if code != 334:
            return code, text
        client.set_server_final(base64.b64decode(text).decode())  # raises unless the server knew our password
        code, text = c.cmd("")
        if code == 235:
            assert c.cmd(f"MAIL FROM:<{ADDRESS}>")[0] == 250
        return code, text


def test_auth_scram_sha_256(srv):
    assert scram_login(srv.submission_port, ADDRESS, PASSWORD) == (235, "2.7.0 Authentication successful")
    code, text = scram_login(srv.submission_port, ADDRESS, "wrong")
    assert (code, text[:5]) == (535, "5.7.8")
    code, text = scram_login(srv.submission_port, "nobody@localhost", PASSWORD)
    assert (code, text[:5]) == (535, "5.7.8")


def scram_login_with_authzid(port: int, authzid: str, username: str, password: str) -> tuple[int, str]:
    """AUTH SCRAM-SHA-256 as gsasl clients (neomutt) do it, with an authorization
    identity in the GS2 header ("n,a=...,"), which scramp's client cannot send:
    the client side of RFC 5802 3 written out. The final reply."""
    import base64
    import hashlib
    import hmac
    import secrets

    from ..rawsmtp import RawSMTP

    b64 = lambda data: base64.b64encode(data if isinstance(data, bytes) else data.encode()).decode()  # noqa: E731
    header = f"n,a={authzid},"
    bare = f"n={username},r={secrets.token_urlsafe(18)}"
    with RawSMTP(port) as c:
        c.cmd("EHLO client.example")
        code, text = c.cmd("AUTH SCRAM-SHA-256 " + b64(header + bare))
        if code != 334:
            return code, text
        server_first = base64.b64decode(text).decode()
        fields = dict(f.split("=", 1) for f in server_first.split(","))
        salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(fields["s"]), int(fields["i"]))
        client_key = hmac.digest(salted, b"Client Key", "sha256")
        without_proof = f"c={b64(header)},r={fields['r']}"
        auth_message = f"{bare},{server_first},{without_proof}".encode()
        signature = hmac.digest(hashlib.sha256(client_key).digest(), auth_message, "sha256")
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        code, text = c.cmd(b64(f"{without_proof},p={b64(proof)}"))
        if code != 334:
            return code, text
        server_key = hmac.digest(salted, b"Server Key", "sha256")
        expected = "v=" + b64(hmac.digest(server_key, auth_message, "sha256"))
        assert base64.b64decode(text).decode() == expected  # the server knew our password
        code, text = c.cmd("")
        if code == 235:
            assert c.cmd(f"MAIL FROM:<{ADDRESS}>")[0] == 250
        return code, text


def test_auth_scram_with_authzid_of_the_login_itself(srv):
    assert scram_login_with_authzid(srv.submission_port, ADDRESS, ADDRESS, PASSWORD) == \
        (235, "2.7.0 Authentication successful")
    code, text = scram_login_with_authzid(srv.submission_port, ADDRESS, ADDRESS, "wrong")
    assert (code, text[:5]) == (535, "5.7.8")


def test_auth_scram_with_authzid_of_someone_else_is_refused(srv):
    code, text = scram_login_with_authzid(srv.submission_port, TRACKED, ADDRESS, PASSWORD)
    assert (code, text) == (535, "5.7.8 authorization identity must be empty or the login address")
    # "=" in a saslname is sent as =3D (RFC 5802 5.1): this one is "a=b".
    code, text = scram_login_with_authzid(srv.submission_port, "a=3Db", ADDRESS, PASSWORD)
    assert code == 535


def test_auth_plain_authzid_must_be_the_login(srv):
    import base64

    from ..rawsmtp import RawSMTP

    def plain(authzid: str) -> tuple[int, str]:
        with RawSMTP(srv.submission_port) as c:
            c.cmd("EHLO client.example")
            token = base64.b64encode(f"{authzid}\0{ADDRESS}\0{PASSWORD}".encode()).decode()
            return c.cmd("AUTH PLAIN " + token)

    assert plain(ADDRESS) == (235, "2.7.0 Authentication successful")
    assert plain("") == (235, "2.7.0 Authentication successful")
    assert plain(TRACKED) == (535, "5.7.8 authorization identity must be empty or the login address")

"""AUTHENTICATE SCRAM-SHA-256 (RFC 5802, RFC 7677) and PLAIN over IMAP,
with and without the initial response on the command line (SASL-IR, RFC
4959), against scramp's client: the server proves itself, bad proofs,
unknown users, cancellation and bad base64 are answered, and failed
attempts count towards the same per-address throttle as LOGIN."""

import base64

import pytest
import scramp

from ..imapclient import Raw
from ..localserve import ADDRESS, PASSWORD


def b64(data: str | bytes) -> bytes:
    return base64.b64encode(data.encode() if isinstance(data, str) else data)


def scram_login(server, password: str = PASSWORD, user: str = ADDRESS, initial: bool = True):
    """A SCRAM-SHA-256 exchange; returns (client, tagged line, the scramp client)."""
    raw = Raw(server.ports["IMAP"])
    client = scramp.ScramClient(["SCRAM-SHA-256"], user, password)
    tag = raw.tag()
    if initial:
        raw.send(tag + b" AUTHENTICATE SCRAM-SHA-256 " + b64(client.get_client_first()) + b"\r\n")
    else:
        raw.send(tag + b" AUTHENTICATE SCRAM-SHA-256\r\n")
        assert raw.line() == b"+ "
        raw.send(b64(client.get_client_first()) + b"\r\n")
    line = raw.line()
    if not line.startswith(b"+ "):
        return raw, line, client
    client.set_server_first(base64.b64decode(line[2:]).decode())
    raw.send(b64(client.get_client_final()) + b"\r\n")
    line = raw.line()
    if not line.startswith(b"+ "):
        return raw, line, client
    client.set_server_final(base64.b64decode(line[2:]).decode())  # raises unless the server knew the verifier
    raw.send(b"\r\n")
    return raw, raw.line(), client


def test_capability(server):
    raw = Raw(server.ports["IMAP"])
    caps = raw.greeting.split(b"]")[0].split()
    assert b"AUTH=SCRAM-SHA-256" in caps and b"AUTH=PLAIN" in caps and b"SASL-IR" in caps
    raw.close()


@pytest.mark.parametrize("initial", [True, False], ids=["sasl-ir", "continuation"])
def test_scram_login(server, initial):
    raw, tagged, _ = scram_login(server, initial=initial)
    assert tagged.startswith(b"t1 OK [CAPABILITY "), tagged
    assert b"AUTH=" not in tagged
    _, tagged = raw.command(b"SELECT INBOX")
    assert b" OK " in tagged
    raw.close()


def test_scram_wrong_password_and_unknown_user(server):
    for user, password in ((ADDRESS, "wrong"), ("nobody@localhost", PASSWORD)):
        raw, tagged, _ = scram_login(server, password=password, user=user)
        assert tagged.startswith(b"t1 NO [AUTHENTICATIONFAILED] "), tagged
        _, tagged = raw.command(b"SELECT INBOX")
        assert b" BAD " in tagged  # still not logged in
        raw.close()


def test_scram_foreign_authzid(server):
    raw = Raw(server.ports["IMAP"])
    first = "n,a=other@localhost,n=" + ADDRESS + ",r=abcdefghijklmnop"
    _, tagged = raw.command(b"AUTHENTICATE SCRAM-SHA-256 " + b64(first))
    assert tagged.startswith(b"t1 NO [AUTHORIZATIONFAILED] "), tagged
    raw.close()


def test_cancel_and_bad_base64(server):
    raw = Raw(server.ports["IMAP"])
    tag = raw.tag()
    raw.send(tag + b" AUTHENTICATE SCRAM-SHA-256\r\n")
    assert raw.line() == b"+ "
    raw.send(b"*\r\n")
    assert raw.line() == tag + b" BAD authentication cancelled"
    _, tagged = raw.command(b"AUTHENTICATE SCRAM-SHA-256 not*base64")
    assert b" BAD invalid base64" in tagged, tagged
    # Cancelled after the server's first message.
    client = scramp.ScramClient(["SCRAM-SHA-256"], ADDRESS, PASSWORD)
    tag = raw.tag()
    raw.send(tag + b" AUTHENTICATE SCRAM-SHA-256 " + b64(client.get_client_first()) + b"\r\n")
    assert raw.line().startswith(b"+ ")
    raw.send(b"*\r\n")
    assert raw.line() == tag + b" BAD authentication cancelled"
    _, tagged = raw.command(b"AUTHENTICATE SCRAM-SHA-256 " + b64("garbage"))
    assert b" NO [AUTHENTICATIONFAILED] " in tagged, tagged
    raw.login()
    raw.close()


@pytest.mark.parametrize("initial", [True, False], ids=["sasl-ir", "continuation"])
def test_plain(server, initial):
    raw = Raw(server.ports["IMAP"])
    response = b64("\0" + ADDRESS + "\0" + PASSWORD)
    if initial:
        _, tagged = raw.command(b"AUTHENTICATE PLAIN " + response)
    else:
        tag = raw.tag()
        raw.send(tag + b" AUTHENTICATE PLAIN\r\n")
        assert raw.line() == b"+ "
        raw.send(response + b"\r\n")
        _, tagged = raw.until(tag)
    assert tagged.startswith(b"t1 OK [CAPABILITY "), tagged
    raw.close()


def test_unknown_mechanism(server):
    raw = Raw(server.ports["IMAP"])
    _, tagged = raw.command(b"AUTHENTICATE CRAM-MD5")
    assert b" NO [CANNOT] " in tagged
    raw.close()


@pytest.mark.slow
def test_failed_scram_logins_are_throttled_like_login(new_server):
    server = new_server().start()
    for _ in range(10):
        raw, tagged, _ = scram_login(server, password="wrong")
        assert b" NO [AUTHENTICATIONFAILED] " in tagged, tagged
        raw.close()
    # The address is throttled now: SCRAM and LOGIN alike, even with the right password.
    raw, tagged, _ = scram_login(server)
    assert b" NO [UNAVAILABLE] " in tagged, tagged
    _, tagged = raw.command(b"LOGIN " + ADDRESS.encode() + b" " + PASSWORD.encode())
    assert b" NO [UNAVAILABLE] " in tagged, tagged
    _, tagged = raw.command(b"AUTHENTICATE PLAIN " + b64("\0" + ADDRESS + "\0" + PASSWORD))
    assert b" NO [UNAVAILABLE] " in tagged, tagged
    raw.close()


@pytest.mark.slow
def test_not_offered_without_verifier(new_server):
    def configure(config):
        for account in config.Accounts.values():
            account.SCRAMSHA256 = ""

    server = new_server(configure).start()
    raw = Raw(server.ports["IMAP"])
    caps = raw.greeting.split(b"]")[0].split()
    assert b"AUTH=SCRAM-SHA-256" not in caps and b"AUTH=PLAIN" in caps
    _, tagged = raw.command(b"AUTHENTICATE SCRAM-SHA-256 " + b64("n,,n=" + ADDRESS + ",r=abcdefghijkl"))
    assert b" NO [CANNOT] " in tagged, tagged
    raw.login()
    raw.close()

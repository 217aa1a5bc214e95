"""The SMTP listeners with a production config (not localserve): unknown
recipients and relaying refused, catchall destinations, AUTH only after TLS,
and incoming DKIM, SPF and DMARC checks against a test DNS server."""

import asyncio
import smtplib
import ssl

import pytest

from moxpy import config as configlib
from moxpy import offload
from moxpy.message import dkim as dkimlib
from moxpy.provision.dkimkeys import generate_private_key

from .. import queuehelp
from ..dnsserver import DNSServer
from ..smtpserve import InProcessSMTP, production_config


@pytest.fixture(scope="module")
def sender_key(tmp_path_factory):
    """A DKIM key of the foreign domain sender.example, and a config that signs with it."""
    directory = tmp_path_factory.mktemp("sender")
    with open(directory / "s1.pem", "wb") as f:
        f.write(generate_private_key("rsa"))
    config = configlib.Config(Domains={"sender.example": configlib.Domain(
        DKIM=configlib.DKIM(Selectors={"s1": configlib.DKIMSelector(PrivateKeyFile="s1.pem")}, Sign=["s1"]))})
    config.path = str(directory / "mox.toml")
    return config


@pytest.fixture(scope="module")
def dns(sender_key):
    [key] = dkimlib.selector_keys(sender_key, "sender.example")
    server = DNSServer({
        ("sender.example", "TXT"): ["v=spf1 ip4:127.0.0.0/8 -all"],
        ("s1._domainkey.sender.example", "TXT"): [key.dns_record()],
        ("_dmarc.sender.example", "TXT"): ["v=DMARC1; p=reject"],
        ("strict.example", "TXT"): ["v=spf1 ip4:192.0.2.1 -all"],
        ("_dmarc.strict.example", "TXT"): ["v=DMARC1; p=reject"],
        ("lax.example", "TXT"): ["v=spf1 ip4:192.0.2.1 -all"],
        ("_dmarc.lax.example", "TXT"): ["v=DMARC1; p=none"],
    }).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def mx(tmp_path_factory, dns):
    srv = InProcessSMTP(production_config(str(tmp_path_factory.mktemp("serve")), dns.address)).start()
    yield srv
    srv.stop()


def smtp(mx) -> smtplib.SMTP:
    return smtplib.SMTP("127.0.0.1", mx.listener.SMTP.Port, timeout=10)


def message(sender: str, to: str, subject: str = "test", body: str = "hello") -> bytes:
    return f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n\r\n{body}\r\n".encode()


def test_unknown_recipient_and_relaying_refused_at_rcpt(mx):
    with smtp(mx) as s:
        s.ehlo("client.example")
        assert s.mail("someone@sender.example")[0] == 250
        code, text = s.rcpt("nobody@example.com")
        assert (code, text[:5]) == (550, b"5.1.1")
        code, text = s.rcpt("someone@elsewhere.example")
        assert (code, text[:5]) == (550, b"5.1.1")
        code, text = s.docmd("DATA")
        assert (code, text[:5]) == (503, b"5.5.1")  # no valid recipient
    assert mx.messages("alice") == []


def test_catchall_separator_and_domain_catchall(mx):
    before_alice, before_bob = len(mx.messages("alice")), len(mx.messages("bob"))
    with smtp(mx) as s:
        assert s.sendmail("x@sender.example", ["alice+news@example.com"], message("x@other.example", "alice+news@example.com")) == {}
        assert s.sendmail("x@sender.example", ["anything@catchall.example"], message("x@other.example", "anything@catchall.example")) == {}
    [alice] = mx.messages("alice")[before_alice:]
    assert alice["rcpt_to"] == "alice+news@example.com" and alice["mailbox"] == "Inbox"
    [bob] = mx.messages("bob")[before_bob:]
    assert bob["rcpt_to"] == "anything@catchall.example" and bob["mailbox"] == "Archive"


def test_delivery_port_has_no_auth(mx):
    with smtp(mx) as s:
        s.ehlo()
        assert not s.has_extn("auth")
        code, _ = s.docmd("AUTH", "PLAIN AGFsaWNlQGV4YW1wbGUuY29tAGFsaWNlLXNlY3JldA==")
        assert code >= 500


def test_submission_auth_only_after_starttls(mx):
    with smtplib.SMTP("127.0.0.1", mx.listener.Submission.Port, timeout=10) as s:
        s.ehlo()
        assert s.has_extn("starttls")
        assert not s.has_extn("auth")
        code, text = s.docmd("AUTH", "PLAIN AGFsaWNlQGV4YW1wbGUuY29tAGFsaWNlLXNlY3JldA==")
        assert (code, text[:6]) == (538, b"5.7.11")
        code, text = s.docmd("MAIL", "FROM:<alice@example.com>")
        assert (code, text[:5]) == (530, b"5.7.0")

        s.starttls(context=_trusting(mx))
        s.ehlo()
        assert "PLAIN" in s.esmtp_features["auth"] and "LOGIN" in s.esmtp_features["auth"]
        s.login("alice@example.com", "alice-secret")
        before = {e.id for e in queuehelp.queued(mx)}
        assert s.sendmail("alice@example.com", ["friend@elsewhere.example"],
                          message("alice@example.com", "friend@elsewhere.example")) == {}
    [entry] = [e for e in queuehelp.queued(mx) if e.id not in before]
    assert entry.account == "alice" and entry.rcpt_to == "friend@elsewhere.example"
    data = queuehelp.message(mx, entry)
    # Signed with both example.com keys, after the Received header of the submission.
    assert data.count(b"DKIM-Signature:") == 2 and b"d=example.com;" in data
    assert data.startswith(b"Received: from mail.example.com\r\n")


def test_submissions_implicit_tls(mx):
    with smtplib.SMTP_SSL("127.0.0.1", mx.listener.Submissions.Port, context=_trusting(mx), timeout=10) as s:
        s.ehlo()
        assert not s.has_extn("starttls")
        assert s.login("alice@example.com", "alice-secret")[0] == 235


def _trusting(mx) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=mx.config.resolve("mail.crt"))
    context.check_hostname = False  # connecting to 127.0.0.1, certificate is for mail.example.com
    return context


def test_dkim_spf_and_dmarc_pass_for_signed_mail(mx, sender_key):
    before = len(mx.messages("alice"))
    msg = message("Sender <news@sender.example>", "alice@example.com", "signed")
    signed = dkimlib.signature_headers(sender_key, msg, "sender.example") + msg
    with smtp(mx) as s:
        s.ehlo("mail.sender.example")
        assert s.sendmail("bounces@sender.example", ["alice@example.com"], signed) == {}
    [row] = mx.messages("alice")[before:]
    assert row["mail_from_validated"] == 1
    assert row["msg_from_validated"] == 1
    assert row["dkim_domains"] == ["sender.example"]
    stored = mx.message_file("alice", row)
    assert stored.endswith(signed)  # the bytes as sent, after our trace fields
    header = stored[: stored.index(b"DKIM-Signature:")]
    assert b"dkim=pass header.d=sender.example" in header
    assert b"spf=pass smtp.mailfrom=bounces@sender.example" in header
    assert b"dmarc=pass header.from=sender.example" in header


def test_broken_signature_fails_dkim_but_spf_still_aligns(mx, sender_key):
    before = len(mx.messages("alice"))
    msg = message("news@sender.example", "alice@example.com", "tampered")
    signed = dkimlib.signature_headers(sender_key, msg, "sender.example") + msg.replace(b"hello", b"HELLO")
    with smtp(mx) as s:
        assert s.sendmail("bounces@sender.example", ["alice@example.com"], signed) == {}
    [row] = mx.messages("alice")[before:]
    assert row["dkim_domains"] == []
    assert row["mail_from_validated"] == 1 and row["msg_from_validated"] == 1
    assert b"dkim=fail" in mx.message_file("alice", row)


@pytest.mark.parametrize("tamper", [False, True])
def test_signatures_of_a_large_message_are_verified_in_the_helper_process(mx, sender_key, tamper):
    # Above offload.APART: signed and verified in the helper process, with the key looked up beforehand.
    before = len(mx.messages("alice"))
    body = "\r\n".join(f"line {i} of a long report " + "x" * 60 for i in range(25_000))
    assert len(body) > offload.APART
    msg = message("news@sender.example", "alice@example.com", "large", body)
    signed = asyncio.run(dkimlib.sign(sender_key, msg, "sender.example"))
    if tamper:
        signed = signed.replace(b"line 24999 ", b"line 99999 ")
    with smtp(mx) as s:
        s.ehlo("mail.sender.example")
        assert s.sendmail("bounces@sender.example", ["alice@example.com"], signed) == {}
    [row] = mx.messages("alice")[before:]
    assert offload.running()
    assert row["dkim_domains"] == ([] if tamper else ["sender.example"])
    stored = mx.message_file("alice", row)
    assert (b"dkim=fail" if tamper else b"dkim=pass header.d=sender.example") in stored[:stored.index(b"DKIM-Signature:")]


def test_dmarc_reject_policy_rejects_unauthenticated_mail(mx):
    before = len(mx.messages("alice"))
    with smtp(mx) as s:
        s.ehlo("forger.example")
        assert s.mail("ceo@strict.example")[0] == 250
        assert s.rcpt("alice@example.com")[0] == 250
        code, text = s.data(message("ceo@strict.example", "alice@example.com", "wire money"))
        assert (code, text[:5]) == (550, b"5.7.1")
        assert b"DMARC" in text
    assert len(mx.messages("alice")) == before


def test_spf_fail_without_reject_policy_is_delivered_unvalidated(mx):
    before = len(mx.messages("alice"))
    with smtp(mx) as s:
        assert s.sendmail("someone@lax.example", ["alice@example.com"], message("someone@lax.example", "alice@example.com")) == {}
    [row] = mx.messages("alice")[before:]
    assert row["mail_from_validated"] == 0 and row["msg_from_validated"] == 0
    stored = mx.message_file("alice", row)
    assert b"spf=fail" in stored and b"dmarc=fail" in stored

"""Direct delivery (the non-localserve path): MX lookup against a DNS server
on loopback, SMTP to an aiosmtpd peer with STARTTLS and REQUIRETLS,
recipients at one domain batched in one transaction, null MX and
nonexistent domains refused, per-recipient failures."""

import pytest

from moxpy.provision.certificate import generate_self_signed
from moxpy.message import dsn as dsnlib

from ..localserve import LocalServer
from ..dnsserver import DNSServer
from ..mailpeer import SMTPPeer
from ..queuehelp import retired, send

RECORDS = {
    ("example.test", "MX"): ["10 mx.example.test."],
    ("mx.example.test", "A"): ["127.0.0.1"],
    # No MX: the domain itself is the mail host (RFC 5321 5.1).
    ("nomx.test", "A"): ["127.0.0.1"],
    # RFC 7505 null MX: no mail accepted.
    ("nullmx.test", "MX"): ["0 ."],
    # Its host name does not match the peer's certificate.
    ("other.test", "MX"): ["10 mail.other.test."],
    ("mail.other.test", "A"): ["127.0.0.1"],
}


@pytest.fixture(scope="module")
def peer(tmp_path_factory):
    directory = tmp_path_factory.mktemp("peer")
    cert, key = str(directory / "mx.crt"), str(directory / "mx.key")
    generate_self_signed(cert, key, hostname="mx.example.test")
    smtp = SMTPPeer(cert, key)
    smtp.cert = cert
    yield smtp
    smtp.stop()


@pytest.fixture(scope="module")
def dns_server():
    server = DNSServer(RECORDS).start()
    yield server
    server.stop()


def direct(peer, dns_server, config) -> None:
    config.Queue.Delivery = "direct"
    config.DNS.Nameservers = [dns_server.address]
    config.Queue.SMTPPort = peer.port
    config.Queue.TLSCAFile = peer.cert
    config.Queue.BackoffFirst = 0.3
    config.Queue.MaxAttempts = 2


@pytest.fixture(scope="module")
def server(tmp_path_factory, peer, dns_server):
    srv = LocalServer(str(tmp_path_factory.mktemp("direct")), lambda config: direct(peer, dns_server, config)).start()
    yield srv
    srv.stop()


@pytest.fixture(autouse=True)
def fresh_peer(peer):
    peer.handler.received.clear()
    peer.handler.offer_requiretls = True
    peer.handler.rcpt_replies.clear()
    peer.handler.data_delay = 0.0
    peer.handler.most_in_data.clear()


def wait_retired(server, queue_id):
    return server.wait_for(lambda: retired(server, queue_id), 30)


def received_with_subject(peer, subject: str):
    return [r for r in peer.handler.received if f"Subject: {subject}\r\n".encode() in r.data]


def dsn_for(server, message_id: str):
    for m in server.messages():
        if m["dsn"]:
            data = server.message_file(m)
            if f"References: {message_id}".encode() in data:
                return dsnlib.parse(data)
    return None


def test_mx_lookup_starttls_and_one_transaction_per_domain(server, peer, dns_server):
    result = send(server, {"To": [{"Address": "a@example.test"}, {"Address": "b@example.test"}],
                           "CC": [{"Address": "c@nomx.test"}], "Subject": "direct", "Text": "hello"})
    for s in result["Submissions"]:
        assert wait_retired(server, s["QueueMsgID"]).event == "delivered"
    got = received_with_subject(peer, "direct")
    by_rcpts = sorted(sorted(r.rcpt_tos) for r in got)
    # a and b share one transaction (one DATA); c is at another domain.
    assert by_rcpts == [["a@example.test", "b@example.test"], ["c@nomx.test"]]
    assert all(r.tls for r in got)  # opportunistic STARTTLS, certificate not checked
    assert all(r.mail_from == "mox@localhost" for r in got)
    assert all("REQUIRETLS" not in r.mail_options for r in got)
    assert ("example.test", "MX") in dns_server.queries and ("mx.example.test", "A") in dns_server.queries
    assert ("nomx.test", "A") in dns_server.queries
    # Sent exactly as stored in the queue, and the stored message is gone once all are retired.
    assert got[0].data == got[1].data
    done = retired(server, result["Submissions"][0]["QueueMsgID"])
    assert done.results[0].code == 250


def test_requiretls_with_verified_certificate(server, peer):
    result = send(server, {"To": [{"Address": "secure@example.test"}], "Subject": "requiretls", "Text": "hi",
                           "RequireTLS": True})
    assert wait_retired(server, result["Submissions"][0]["QueueMsgID"]).event == "delivered"
    [got] = received_with_subject(peer, "requiretls")
    assert got.tls and "REQUIRETLS" in got.mail_options


def test_requiretls_fails_when_certificate_does_not_match(server, peer):
    result = send(server, {"To": [{"Address": "x@other.test"}], "Subject": "requiretls mismatch", "Text": "hi",
                           "RequireTLS": True})
    done = wait_retired(server, result["Submissions"][0]["QueueMsgID"])
    assert done.event == "failed" and done.last_enhanced_code == "5.7.30"
    assert done.attempts == 1
    assert received_with_subject(peer, "requiretls mismatch") == []
    # Without REQUIRETLS the same host takes it, TLS unverified.
    send(server, {"To": [{"Address": "x@other.test"}], "Subject": "opportunistic", "Text": "hi"})
    server.wait_for(lambda: received_with_subject(peer, "opportunistic"))
    report = server.wait_for(lambda: dsn_for(server, result["MessageID"]))
    assert report.recipients[0].status == "5.7.30"


def test_requiretls_fails_when_server_does_not_announce_it(server, peer):
    peer.handler.offer_requiretls = False
    result = send(server, {"To": [{"Address": "y@example.test"}], "Subject": "no requiretls", "Text": "hi",
                           "RequireTLS": True})
    done = wait_retired(server, result["Submissions"][0]["QueueMsgID"])
    assert (done.event, done.last_enhanced_code) == ("failed", "5.7.30")
    assert "REQUIRETLS" in done.last_error
    assert received_with_subject(peer, "no requiretls") == []


@pytest.mark.parametrize("address,code,enhanced", [("u@nullmx.test", 556, "5.1.10"),
                                                   ("u@nonexistent.test", 550, "5.1.2")])
def test_undeliverable_domains_fail_at_once_with_dsn(server, address, code, enhanced):
    result = send(server, {"To": [{"Address": address}], "Subject": "no mail here", "Text": "hi"})
    done = wait_retired(server, result["Submissions"][0]["QueueMsgID"])
    assert (done.event, done.attempts) == ("failed", 1)
    assert (done.last_code, done.last_enhanced_code) == (code, enhanced)
    report = server.wait_for(lambda: dsn_for(server, result["MessageID"]))
    assert (report.recipients[0].action, report.recipients[0].status) == ("failed", enhanced)


def test_per_recipient_replies_in_one_transaction(server, peer):
    peer.handler.rcpt_replies.update({"unknown": "550 5.1.1 no such user", "busy": "451 4.2.1 try later"})
    result = send(server, {"To": [{"Address": "known@example.test"}, {"Address": "unknown@example.test"},
                                  {"Address": "busy@example.test"}], "Subject": "mixed", "Text": "hi"})
    known, unknown, busy = (s["QueueMsgID"] for s in result["Submissions"])
    assert wait_retired(server, known).event == "delivered"
    failed = wait_retired(server, unknown)
    assert (failed.event, failed.last_code, failed.last_enhanced_code) == ("failed", 550, "5.1.1")
    assert server.call("SuppressionPresent", {"EmailAddress": "unknown@example.test"}).json()["Present"] is True
    # The temporary failure is retried (MaxAttempts 2 here), then fails.
    gave_up = wait_retired(server, busy)
    assert (gave_up.event, gave_up.attempts, gave_up.last_code) == ("failed", 2, 451)
    assert [r.rcpt_tos for r in received_with_subject(peer, "mixed")] == [["known@example.test"]]


def test_deliveries_to_one_domain_stay_within_its_cap_while_other_domains_go_on(new_server, peer, dns_server):
    def configure(config):
        direct(peer, dns_server, config)
        config.Queue.DestinationConcurrency = 3

    srv = new_server(configure).start()
    peer.handler.data_delay = 1.0  # longer than the 13 Sends take, so that the burst is queued at once
    ids = [send(srv, {"To": [{"Address": f"burst{i}@example.test"}], "Subject": f"burst {i}", "Text": "hi"})
           ["Submissions"][0]["QueueMsgID"] for i in range(12)]
    ids.append(send(srv, {"To": [{"Address": "other@nomx.test"}], "Subject": "other domain", "Text": "hi"})
               ["Submissions"][0]["QueueMsgID"])
    for queue_id in ids:
        assert wait_retired(srv, queue_id).event == "delivered"
    assert peer.handler.most_in_data["example.test"] == 3  # 12 at once without the cap
    # Queued last, the other domain's message did not wait for the burst's: it arrived among the first.
    order = [r.rcpt_tos[0] for r in peer.handler.received]
    assert len(order) == 13 and order.index("other@nomx.test") < 6, order

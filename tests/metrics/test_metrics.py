"""GET /metrics: drive Sends, SMTP, IMAP and webhooks against a server of
two processes, scrape, parse the Prometheus text format with
prometheus_client's parser, and check each counter moved by what was done;
basic auth when configured; nothing when disabled."""

import imaplib
import os
import smtplib
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from moxpy.config import IncomingWebhook, OutgoingWebhook

from ..hookreceiver import Receiver
from ..imapclient import login
from ..localserve import ADDRESS, PASSWORD, ROOT, LocalServer

SEND = {"To": [{"Address": ADDRESS}], "Subject": "counted", "Text": "hi"}


@pytest.fixture(scope="module")
def receiver():
    r = Receiver()
    # Outgoing webhooks fail, so they stay in the webhook queue; incoming ones are taken.
    r.decide = lambda path, body: 503 if path == "/outgoing" else 200
    yield r
    r.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory, receiver):
    def configure(config):
        config.Processes = 2  # the webapi, IMAP, the queue and webhooks in one process, SMTP in the other
        account = config.Accounts["mox"]
        account.IncomingWebhook = IncomingWebhook(URL=receiver.url + "/incoming")
        account.OutgoingWebhook = OutgoingWebhook(URL=receiver.url + "/outgoing")

    srv = LocalServer(str(tmp_path_factory.mktemp("metrics")), configure).start()
    yield srv
    srv.stop()


def metrics_url(server) -> str:
    return f"http://127.0.0.1:{server.ports['WebAPIHTTP']}/metrics"


class Scrape(dict):
    """(sample name, labels) -> value of one scrape."""

    def __call__(self, name: str, **labels) -> float:
        return self.get((name, frozenset(labels.items())), 0.0)


def scrape(server, **kwargs) -> Scrape:
    response = httpx.get(metrics_url(server), **kwargs)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    found = Scrape()
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def until(server, predicate, timeout: float = 20.0) -> Scrape:
    """Scrape until predicate(scrape) holds; the last scrape."""
    deadline = time.monotonic() + timeout
    while True:
        now = scrape(server)
        if predicate(now):
            return now
        if time.monotonic() > deadline:
            raise AssertionError(f"metrics never got there: {sorted((k[0], dict(k[1]), v) for k, v in now.items())}")
        time.sleep(0.1)


def test_counters_of_both_processes_move_with_what_was_done(server, receiver):
    before = scrape(server)
    hooks_before = len(receiver.matching("/incoming"))
    failing_before = len(receiver.matching("/outgoing"))

    # The webapi (front process): two Sends, one refused Send, one refused login.
    for _ in range(2):
        assert server.call("Send", SEND).status_code == 200
    assert server.call("Send", {"Text": "to nobody"}).json()["Code"] == "noRecipients"
    assert server.call("MailboxList", {}, password="wrong").status_code == 401

    # SMTP (delivery process): one message delivered directly, one refused after DATA, one submitted.
    with smtplib.SMTP("127.0.0.1", server.smtp_port) as s:
        s.sendmail("a@example.org", [ADDRESS], b"Subject: direct\r\n\r\nhi\r\n")
        with pytest.raises(smtplib.SMTPDataError):
            s.sendmail("a@example.org", ["nobody-permerror@example.org"], b"Subject: refused\r\n\r\nhi\r\n")
    with smtplib.SMTP("127.0.0.1", server.submission_port) as s:
        s.login(ADDRESS, PASSWORD)
        s.sendmail(ADDRESS, [ADDRESS], f"From: {ADDRESS}\r\nSubject: submitted\r\n\r\nhi\r\n".encode())

    # Three queued messages delivered (to our own SMTP listener), each raising a delivered webhook that fails.
    after = until(server, lambda m: m("moxpy_queue_deliveries_total", result="delivered")
                  - before("moxpy_queue_deliveries_total", result="delivered") == 3
                  and m("moxpy_webhook_attempts_total", result="httperror")
                  - before("moxpy_webhook_attempts_total", result="httperror") == 3)
    delta = lambda name, **labels: after(name, **labels) - before(name, **labels)

    assert delta("moxpy_webapi_calls_total", method="Send", result="ok") == 2
    assert delta("moxpy_webapi_calls_total", method="Send", result="noRecipients") == 1
    assert delta("moxpy_webapi_calls_total", method="MailboxList", result="badauth") == 1
    assert delta("moxpy_webapi_call_duration_seconds_count", method="Send") == 3
    assert delta("moxpy_webapi_call_duration_seconds_sum", method="Send") > 0

    # Delivery: the three from the queue and the direct one accepted, one refused for good.
    assert delta("moxpy_smtp_messages_total", role="delivery", result="accepted") == 4
    assert delta("moxpy_smtp_messages_total", role="delivery", result="permerror") == 1
    assert delta("moxpy_smtp_messages_total", role="submission", result="accepted") == 1
    assert delta("moxpy_smtp_sessions_total", role="submission", result="quit") == 1
    assert delta("moxpy_smtp_sessions_total", role="delivery", result="quit") >= 1
    assert delta("moxpy_queue_deliveries_total", result="failed") == 0

    # Every incoming webhook the receiver took was counted.
    incoming = until(server, lambda m: m("moxpy_webhook_attempts_total", result="ok")
                     - before("moxpy_webhook_attempts_total", result="ok")
                     == len(receiver.matching("/incoming")) - hooks_before >= 4)
    assert incoming("moxpy_webhook_attempts_total", result="error") == before("moxpy_webhook_attempts_total",
                                                                              result="error")
    # Webhooks: once the incoming ones are delivered, the failing outgoing ones wait in the webhook queue
    # for their retry.
    assert len(receiver.matching("/outgoing")) - failing_before == 3
    assert incoming("moxpy_webhook_queue") - before("moxpy_webhook_queue") == 3

    # Messages per account, as the store has them.
    assert after("moxpy_account_messages", account="mox") == len(server.messages())
    assert after("moxpy_account_message_bytes", account="mox") == sum(m["size"] for m in server.messages())


def test_queue_size_counts_messages_waiting(server):
    before = scrape(server)("moxpy_queue_messages")
    later = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
    assert server.call("Send", dict(SEND, FutureRelease=later)).status_code == 200
    assert scrape(server)("moxpy_queue_messages") == before + 1


def test_imap_sessions_open_and_total(server):
    before = scrape(server)
    session = login(server)
    during = scrape(server)
    assert during("moxpy_imap_sessions_open") == before("moxpy_imap_sessions_open") + 1
    assert during("moxpy_imap_sessions_total") == before("moxpy_imap_sessions_total") + 1
    session.logout()
    until(server, lambda m: m("moxpy_imap_sessions_open") == before("moxpy_imap_sessions_open"))
    # A session that never logs in counts too.
    anonymous = imaplib.IMAP4("127.0.0.1", server.ports["IMAP"])
    anonymous.logout()
    until(server, lambda m: m("moxpy_imap_sessions_total") == before("moxpy_imap_sessions_total") + 2)


def test_only_get(server):
    response = httpx.post(metrics_url(server))
    assert response.status_code == 405 and response.headers["Allow"] == "GET, HEAD"


def test_basic_auth_when_configured_and_counters_start_at_zero(new_server):
    def configure(config):
        config.Processes = 1
        config.Metrics.Username = "prometheus"
        config.Metrics.PasswordFile = "metrics-password"

    srv = new_server(configure)
    # The file holds the password's hash, as `mox.py passwordhash` prints it.
    made = subprocess.run([sys.executable, "mox.py", "passwordhash"], input="a long random secret\n",
                          capture_output=True, text=True, check=True, cwd=ROOT)
    assert made.stdout.startswith("$argon2id$") and "a long random secret" not in made.stdout
    with open(f"{srv.directory}/config/metrics-password", "w") as f:
        f.write(made.stdout)
    srv.start()
    url = metrics_url(srv)
    for auth in (None, ("prometheus", "wrong"), ("other", "a long random secret"), ("prometheus", "")):
        response = httpx.get(url, auth=auth)
        assert response.status_code == 401, auth
        assert response.headers["WWW-Authenticate"] == 'Basic realm="metrics"'
    # Bearer or malformed credentials are refused the same way.
    assert httpx.get(url, headers={"Authorization": "Bearer x"}).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Basic !!!"}).status_code == 401
    credentials = ("prometheus", "a long random secret")
    assert srv.call("MailboxList", {}).status_code == 200
    assert scrape(srv, auth=credentials)("moxpy_webapi_calls_total", method="MailboxList", result="ok") == 1
    # The webapi's own credentials are not the metrics'.
    assert httpx.get(url, auth=(ADDRESS, PASSWORD)).status_code == 401

    # A restarted server counts from zero: Prometheus sees a reset, not a jump.
    srv.stop()
    srv.start()
    assert scrape(srv, auth=credentials)("moxpy_webapi_calls_total", method="MailboxList", result="ok") == 0


def test_a_password_file_without_a_hash_is_refused(new_server):
    def configure(config):
        config.Processes = 1
        config.Metrics.Username = "prometheus"
        config.Metrics.PasswordFile = "metrics-password"

    srv = new_server(configure)
    with open(f"{srv.directory}/config/metrics-password", "w") as f:
        f.write("a plain password\n")
    with pytest.raises(Exception):
        srv.start()
    assert "must hold an argon2id password hash" in "".join(srv.output)


def test_off_unless_enabled(new_server):
    def configure(config):
        config.Metrics.Enabled = False

    srv = new_server(configure).start()
    assert httpx.get(metrics_url(srv)).status_code == 404
    assert srv.call("MailboxList", {}).status_code == 200
    assert not os.path.exists(os.path.join(srv.config.data_dir(), "metrics"))

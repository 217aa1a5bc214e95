"""Running a real domain with quickstart and serve: the generated config
starts on loopback ports, mail it signs verifies against the DNS records it
printed, account changes apply at once, and SIGTERM loses nothing."""

import imaplib
import json
import os
import re
import signal
import smtplib
import ssl
import subprocess
import sys
import threading
import time

import dkim
import httpx
import pytest

from moxpy import config as configlib

from . import storehelp
from .dnsserver import DNSServer
from .localserve import ROOT, configure_test_storage, free_ports
from .queuehelp import queued, retired_entries

ADDRESS = "you@example.com"


def zone_records(text: str) -> dict[tuple[str, str], list[str]]:
    """The records quickstart printed, as (name, type) -> values."""
    records: dict[tuple[str, str], list[str]] = {}
    for line in text.splitlines():
        m = re.match(r"^(\S+)\.\s+(MX|TXT|SRV|A|AAAA)\s+(.*)$", line)
        if not m:
            continue
        name, rdtype, value = m.groups()
        if rdtype == "TXT":
            value = "".join(re.findall(r'"([^"]*)"', value))
        records.setdefault((name, rdtype), []).append(value.strip())
    return records


class Serve:
    """A `mox.py serve` process from a quickstart config, on loopback ports."""

    def __init__(self, directory):
        self.directory = str(directory)
        out = subprocess.run([sys.executable, os.path.join(ROOT, "mox.py"), "quickstart", ADDRESS,
                              "-hostname", "mail.example.com", "-dir", self.directory],
                             capture_output=True, text=True, check=True)
        self.quickstart_output = out.stdout
        self.password = re.search(r"password \(shown only now\):\s+(\S+)", out.stdout).group(1)
        records = zone_records(out.stdout)
        records[("mail.example.com", "A")] = ["127.0.0.1"]
        # Only loopback: the example IPv6 address quickstart prints is not ours to connect to.
        records.pop(("mail.example.com", "AAAA"), None)
        self.dns = DNSServer(records).start()

        self.config_path = os.path.join(self.directory, "config", "mox.toml")
        config = configlib.load(self.config_path)
        listener = config.Listeners["public"]
        names = ["SMTP", "Submission", "Submissions", "IMAP", "IMAPS", "WebAPIHTTP", "WebAPIHTTPS"]
        self.ports = dict(zip(names, free_ports(len(names))))
        listener.IPs = ["127.0.0.1"]
        for name, port in self.ports.items():
            getattr(listener, name).Port = port
        listener.WebAPIHTTP.Enabled = True
        config.DNS.Nameservers = [self.dns.address]
        config.DNS.Timeout = 3
        config.Queue.SMTPPort = self.ports["SMTP"]  # the MX host is us
        # The MX host is us: the queue (32 deliveries at once) must not meet our own cap of 30 connections
        # per address, which would answer 421 and leave a burst after a restart to its retry minutes later.
        config.MaxConnectionsPerIP = 100
        configure_test_storage(config)
        configlib.save(config)
        self.config = configlib.load(self.config_path)
        self.proc = None
        self.output: list[str] = []

    def mox(self, *args, input=None):
        return subprocess.run([sys.executable, os.path.join(ROOT, "mox.py"), *args, "-config", self.config_path],
                              capture_output=True, text=True, input=input)

    def start(self):
        self.output = []
        self.proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "mox.py"), "serve", "-config",
                                      self.config_path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        ready = threading.Event()

        def read():
            for line in self.proc.stdout:
                self.output.append(line)
                if "serve ready" in line:
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(20):
            raise RuntimeError("serve did not start:\n" + "".join(self.output))
        return self

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout) if self.proc else 0
        self.proc = None
        return code

    @property
    def webapi(self):
        return f"http://127.0.0.1:{self.ports['WebAPIHTTP']}/webapi/v0/"

    def tls(self):
        return ssl.create_default_context(cafile=os.path.join(self.directory, "config", "tls.crt"))

    def imap_login(self, user, password) -> bool:
        with imaplib.IMAP4_SSL("127.0.0.1", self.ports["IMAPS"], ssl_context=self.tls_for_ip()) as imap:
            try:
                imap.login(user, password)
                return True
            except imaplib.IMAP4.error:
                return False

    def tls_for_ip(self):
        context = self.tls()
        context.check_hostname = False  # the certificate names mail.example.com; we connect to 127.0.0.1
        return context

    def stored(self, account="you"):
        return storehelp.messages(self.config.data_dir(), account, self.config)

    def wait_for(self, predicate, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError("timed out; server output:\n" + "".join(self.output[-30:]))


@pytest.fixture(scope="module")
def serve(tmp_path_factory):
    srv = Serve(tmp_path_factory.mktemp("serve"))
    assert srv.mox("config", "test").returncode == 0
    srv.start()
    yield srv
    srv.stop()
    srv.dns.stop()


def test_signed_mail_verifies_against_the_printed_dns_records(serve):
    message = (f"From: {ADDRESS}\r\nTo: {ADDRESS}\r\nSubject: signed by serve\r\n\r\nhello\r\n").encode()
    with smtplib.SMTP("127.0.0.1", serve.ports["Submission"], timeout=10) as s:
        s.starttls(context=serve.tls_for_ip())
        s.login(ADDRESS, serve.password)
        s.sendmail(ADDRESS, [ADDRESS], message)
    # The queue looks up example.com's MX (us), delivers over SMTP, and the delivery checks pass.
    row = serve.wait_for(lambda: [r for r in serve.stored() if r["subject"] == "signed by serve"])[0]
    resp = httpx.post(serve.webapi + "MessageGet", data={"request": json.dumps({"MsgID": row["id"]})},
                      auth=(ADDRESS, serve.password))
    meta = resp.json()["Meta"]
    assert meta["DKIMVerifiedDomains"] == ["example.com"]
    assert meta["MailFromValidated"] and meta["MsgFromValidated"]

    # Each signature, RSA and ed25519, verifies with the key quickstart told us to publish.
    records = zone_records(serve.quickstart_output)
    raw = httpx.post(serve.webapi + "MessageRawGet", data={"request": json.dumps({"MsgID": row["id"]})},
                     auth=(ADDRESS, serve.password)).content
    algorithms = re.findall(rb"DKIM-Signature:[^:]*?a=([a-z0-9-]+);", raw.replace(b"\r\n\t", b" "))
    assert sorted(algorithms) == [b"ed25519-sha256", b"rsa-sha256"]

    def dnsfunc(name, timeout=5):
        return records.get((name.decode().rstrip("."), "TXT"), [""])[0].encode()

    for index in range(2):
        assert dkim.verify(raw, dnsfunc=dnsfunc) if index == 0 else dkim.DKIM(raw).verify(idx=1, dnsfunc=dnsfunc)


def test_unknown_recipients_are_refused_at_rcpt(serve):
    with smtplib.SMTP("127.0.0.1", serve.ports["SMTP"], timeout=10) as s:
        s.ehlo("client.example.org")
        s.mail("someone@example.org")
        assert s.rcpt("nobody@example.com")[0] == 550
        assert s.rcpt("elsewhere@example.net")[0] == 550


def test_report_and_postmaster_addresses_accept_mail(serve):
    # The rua= addresses quickstart published, and postmaster (RFC 5321 4.5.1) of
    # the domain and of the host, deliver to the account.
    records = zone_records(serve.quickstart_output)
    dmarc = re.search(r"rua=mailto:([^;\s]+)", records[("_dmarc.example.com", "TXT")][0]).group(1)
    tlsrpt = re.search(r"rua=mailto:([^;\s]+)", records[("_smtp._tls.example.com", "TXT")][0]).group(1)
    recipients = [dmarc, tlsrpt, "postmaster@example.com", "Postmaster@mail.example.com", "postmaster"]
    for rcpt in recipients:
        subject = f"for {rcpt}"
        with smtplib.SMTP("127.0.0.1", serve.ports["SMTP"], timeout=10) as s:
            s.ehlo("client.example.org")
            s.mail("someone@example.org")
            assert s.rcpt(rcpt) == (250, b"2.1.5 recipient ok"), rcpt
            assert s.data(f"From: someone@example.org\r\nSubject: {subject}\r\n\r\nreport\r\n".encode())[0] == 250
        serve.wait_for(lambda: [r for r in serve.stored() if r["subject"] == subject])


def test_account_add_passwd_del_apply_at_once(serve):
    out = serve.mox("account", "add", "bob", "bob@example.com", "-password", "bob-secret-1")
    assert out.returncode == 0, out.stderr
    assert serve.imap_login("bob@example.com", "bob-secret-1")
    assert httpx.post(serve.webapi + "SuppressionList", data={"request": "{}"},
                      auth=("bob@example.com", "bob-secret-1")).status_code == 200
    with smtplib.SMTP("127.0.0.1", serve.ports["SMTP"], timeout=10) as s:
        s.ehlo("client.example.org")
        s.mail("someone@example.org")
        assert s.rcpt("bob@example.com")[0] == 250

    assert serve.mox("account", "passwd", "bob", input="bob-secret-2\n").returncode == 0
    assert not serve.imap_login("bob@example.com", "bob-secret-1")
    assert serve.imap_login("bob@example.com", "bob-secret-2")

    assert serve.mox("account", "del", "bob").returncode == 0
    assert not serve.imap_login("bob@example.com", "bob-secret-2")
    assert httpx.post(serve.webapi + "SuppressionList", data={"request": "{}"},
                      auth=("bob@example.com", "bob-secret-2")).status_code == 401
    with smtplib.SMTP("127.0.0.1", serve.ports["SMTP"], timeout=10) as s:
        s.ehlo("client.example.org")
        s.mail("someone@example.org")
        assert s.rcpt("bob@example.com")[0] == 550


@pytest.mark.slow
def test_sigterm_during_sends_loses_nothing_that_got_200(tmp_path):
    srv = Serve(tmp_path)
    srv.start()
    accepted: list[dict] = []
    stop = threading.Event()

    def sender(n):
        with httpx.Client(auth=(ADDRESS, srv.password), timeout=10) as c:
            i = 0
            while not stop.is_set():
                i += 1
                try:
                    r = c.post(srv.webapi + "Send", data={"request": json.dumps(
                        {"To": [{"Address": ADDRESS}], "Subject": f"s{n}-{i}", "Text": "x"})})
                except httpx.HTTPError:
                    return
                if r.status_code == 200:
                    accepted.append(r.json())

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    started = time.monotonic()
    code = srv.stop(signal.SIGTERM)
    assert time.monotonic() - started < 5
    assert code == 0
    stop.set()
    for t in threads:
        t.join()
    assert accepted

    # Every Send that got 200 is on disk: in the queue, or already delivered and retired.
    known = {e.id for e in queued(srv) + retired_entries(srv)}
    assert {s["QueueMsgID"] for a in accepted for s in a["Submissions"]} <= known

    srv.start()
    try:
        # Attempts cut off by the shutdown wait for their retry; an operator can start them at once.
        assert srv.mox("queue", "kick").returncode == 0
        wanted = {a["MessageID"] for a in accepted}
        srv.wait_for(lambda: wanted <= {r["message_id"] for r in srv.stored()}, timeout=30)
    finally:
        srv.stop()
        srv.dns.stop()

"""Signed webhooks (Standard Webhooks): outgoing, incoming and change
webhooks from a real localserve to a loopback receiver, verified with the
standardwebhooks library; secrets made and rotated with `mox.py webhook
secret`; webhook-id stable across retries; a tampered body fails."""

import base64
import hashlib
import hmac
import os
import stat
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from moxpy.config import ChangeWebhook, IncomingWebhook, OutgoingWebhook
from moxpy.webhooks import signing

from ..localserve import LocalServer
from ..queuehelp import mox, send


@pytest.fixture(scope="module")
def server(tmp_path_factory, receiver):
    def configure(config):
        config.Queue.WebhookRetryFirst = 0.3
        account = config.Accounts["mox"]
        account.OutgoingWebhook = OutgoingWebhook(URL=receiver.url + "/outgoing", Events=["delivered"])
        account.IncomingWebhook = IncomingWebhook(URL=receiver.url + "/incoming")
        account.ChangeWebhook = ChangeWebhook(URL=receiver.url + "/changes", Events=["messageNew"])

    srv = LocalServer(str(tmp_path_factory.mktemp("signing")), configure).start()
    yield srv
    srv.stop()


@pytest.fixture(autouse=True)
def accept_all(receiver):
    receiver.decide = lambda path, body: 200


def secret(server, *args) -> str:
    return mox(server, "webhook", "secret", "mox", "-dir", server.directory, *args).stdout.strip()


def deliver(server, receiver, subject: str):
    """Send to ourselves; the outgoing, incoming and change webhooks about it."""
    result = send(server, {"To": [{"Address": "mox@localhost"}], "Subject": subject, "Text": "hi"})
    [outgoing] = receiver.wait("/outgoing", QueueMsgID=result["Submissions"][0]["QueueMsgID"], Event="delivered")
    [incoming] = receiver.wait("/incoming", Subject=subject)
    change = server.wait_for(lambda: [r for r in receiver.matching("/changes", Event="messageNew")
                                      if (r.body.get("Message") or {}).get("Subject") == subject], timeout=20)[-1]
    return outgoing, incoming, change


def verifies(secret_: str, request) -> bool:
    try:
        Webhook(secret_).verify(request.raw, request.headers)
        return True
    except WebhookVerificationError:
        return False


def test_no_secret_no_signature_headers(server, receiver):
    result = send(server, {"To": [{"Address": "mox@localhost"}], "Subject": "unsigned", "Text": "hi"})
    [outgoing] = receiver.wait("/outgoing", QueueMsgID=result["Submissions"][0]["QueueMsgID"], Event="delivered")
    [incoming] = receiver.wait("/incoming", Subject="unsigned")
    for request in (outgoing, incoming):
        assert not {"webhook-id", "webhook-timestamp", "webhook-signature"} & set(request.headers)


def test_each_kind_signed_with_its_own_secret(server, receiver):
    out = mox(server, "webhook", "secret", "mox", "-dir", server.directory).stdout.split("\n")
    secrets = dict(line.split(" ") for line in out if line)
    assert sorted(secrets) == ["change", "incoming", "outgoing"]
    assert all(s.startswith("whsec_") and len(base64.b64decode(s[6:])) == 32 for s in secrets.values())
    assert len(set(secrets.values())) == 3
    # Kept where only the server reads them: in the server database, on SQLite a file of the server's alone.
    if server.config.Storage != "postgresql":
        assert stat.S_IMODE(os.stat(os.path.join(server.directory, "data", "mox.db")).st_mode) == 0o600

    outgoing, incoming, change = deliver(server, receiver, "signed")
    for kind, request in (("outgoing", outgoing), ("incoming", incoming), ("change", change)):
        assert request is not None, kind
        assert request.headers["webhook-id"] == request.headers["x-mox-webhook-id"]
        assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 60
        assert verifies(secrets[kind], request), kind
        assert [k for k in secrets if verifies(secrets[k], request)] == [kind]
        # By hand, as docs/operations.md shows.
        signed = f"{request.headers['webhook-id']}.{request.headers['webhook-timestamp']}.".encode() + request.raw
        expected = base64.b64encode(hmac.new(base64.b64decode(secrets[kind].removeprefix("whsec_")), signed,
                                             hashlib.sha256).digest()).decode()
        assert request.headers["webhook-signature"] == "v1," + expected

    # A changed body, id or timestamp fails.
    tampered = type(outgoing)(outgoing.path, outgoing.headers, outgoing.body, outgoing.status,
                              outgoing.raw.replace(b'"delivered"', b'"failed"'))
    assert tampered.raw != outgoing.raw and not verifies(secrets["outgoing"], tampered)
    for header in ("webhook-id", "webhook-timestamp"):
        headers = dict(outgoing.headers, **{header: str(int(outgoing.headers[header]) - 1)})
        assert not verifies(secrets["outgoing"], type(outgoing)(outgoing.path, headers, {}, 200, outgoing.raw))

    # Without -rotate an existing secret stays.
    again = mox(server, "webhook", "secret", "mox", "-dir", server.directory, "-kind", "outgoing", check=False)
    assert again.returncode == 1 and "-rotate" in again.stderr and again.stdout == ""


def test_webhook_id_stable_across_retries(server, receiver):
    key = secret(server, "-kind", "incoming", "-rotate", "-overlap", "0")
    attempts = []

    def decide(path, body):
        if path == "/incoming" and body.get("Subject") == "retried":
            attempts.append(1)
            return 500 if len(attempts) == 1 else 200
        return 200

    receiver.decide = decide
    send(server, {"To": [{"Address": "mox@localhost"}], "Subject": "retried", "Text": "hi"})
    first, second = receiver.wait("/incoming", count=2, Subject="retried")
    assert (first.status, second.status) == (500, 200)
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == second.headers["x-mox-webhook-id"]
    assert second.headers["x-mox-webhook-attempt"] == "2"
    assert verifies(key, first) and verifies(key, second)


def test_rotation_signs_with_both_during_overlap(server, receiver):
    old = secret(server, "-kind", "outgoing", "-rotate", "-overlap", "0")
    new = secret(server, "-kind", "outgoing", "-rotate")  # the default overlap, 24h
    assert old != new
    outgoing, _, _ = deliver(server, receiver, "rotating")
    assert len(outgoing.headers["webhook-signature"].split(" ")) == 2
    assert verifies(old, outgoing) and verifies(new, outgoing)

    # Overlap over: only the newest signs.
    newest = secret(server, "-kind", "outgoing", "-rotate", "-overlap", "0")
    outgoing, _, _ = deliver(server, receiver, "rotated")
    assert len(outgoing.headers["webhook-signature"].split(" ")) == 1
    assert verifies(newest, outgoing) and not verifies(new, outgoing) and not verifies(old, outgoing)


def test_bad_arguments_are_one_line(server):
    for args in (["nobody"], ["mox", "-kind", "bogus"], ["mox", "-rotate", "-overlap", "soon"]):
        out = mox(server, "webhook", "secret", *args, "-dir", server.directory, check=False)
        assert out.returncode in (1, 2) and out.stdout == "" and len(out.stderr.splitlines()) == 1, (args, out)


def test_signature_helper_matches_library():
    key = signing.new_secret()
    header = signing.headers([key], "42", int(time.time()), b'{"a":1}')
    Webhook(key).verify(b'{"a":1}', header)
    assert signing.headers([], "42", 1, b"") == {}


def test_the_documented_verification_code_works():
    """The by-hand verifier in docs/operations.md, run as written."""
    import re

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "docs", "operations.md")) as f:
        section = f.read().split("## Signed webhooks")[1].split("\n## ")[0]
    library, by_hand = re.findall(r"```python\n(.*?)```", section, re.S)
    assert "Webhook(SECRET).verify(body, headers)" in library
    namespace: dict = {}
    exec(by_hand, namespace)
    verify = namespace["verify"]
    old, new = signing.new_secret(), signing.new_secret()
    body = b'{"Version":0}'
    headers = signing.headers([new, old], "9", int(time.time()), body)
    assert verify(old, body, headers) and verify(new, body, headers)
    assert not verify(signing.new_secret(), body, headers) and not verify(new, body + b" ", headers)
    stale = signing.headers([new], "9", int(time.time()) - 600, body)
    assert not verify(new, body, stale)

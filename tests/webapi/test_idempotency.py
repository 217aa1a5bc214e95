"""Idempotent Send over real HTTP: the Idempotency-Key header (or the
IdempotencyKey field) makes repeats answer the original response without
queueing again, also when concurrent, after a restart and after SIGKILL;
a different request under a used key is idempotencyConflict."""

import json
import threading
import time

import httpx
import pytest

from ..localserve import ADDRESS, PASSWORD
from ..queuehelp import queued, retired_entries
from ..serverdbhelp import execute


def entries(server, subject: str) -> list:
    # By id: an entry delivered between the two reads is in both.
    found = {e.id: e for e in queued(server) + retired_entries(server) if e.subject == subject}
    return list(found.values())


def inbox(server, subject: str) -> list:
    return [m for m in server.messages() if m["subject"] == subject]


def post(server, request: dict, key: str | None = None, client: httpx.Client | None = None) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key is not None else {}
    if client is not None:
        return client.post("Send", data={"request": json.dumps(request)}, headers=headers)
    with server.client() as c:
        return c.post("Send", data={"request": json.dumps(request)}, headers=headers)


def request(subject: str, text: str = "hi") -> dict:
    return {"To": [{"Address": "mox@localhost"}], "Subject": subject, "Text": text}


def test_concurrent_identical_sends_queue_once(server):
    answers: list[httpx.Response] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def one():
        with server.client() as c:
            start.wait()
            response = post(server, request("eight at once"), "key-eight", c)
            with lock:
                answers.append(response)

    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(answers) == 8
    assert {r.status_code for r in answers} == {200}, [r.text for r in answers]
    assert len({r.content for r in answers}) == 1
    result = answers[0].json()
    assert len(result["Submissions"]) == 1 and result["Submissions"][0]["QueueMsgID"] > 0
    server.wait_for(lambda: inbox(server, "eight at once"))
    time.sleep(1.2)  # a queue rescan later: nothing more arrives
    assert len(entries(server, "eight at once")) == 1
    assert len(inbox(server, "eight at once")) == 1


def test_different_request_same_key_conflicts(server):
    first = post(server, request("conflict", "one"), "key-conflict")
    assert first.status_code == 200
    for changed in (request("conflict", "two"), {**request("conflict", "one"), "SaveSent": True},
                    {**request("conflict", "one"), "To": [{"Address": "other@localhost"}]}):
        again = post(server, changed, "key-conflict")
        assert again.status_code == 400 and again.json()["Code"] == "idempotencyConflict", again.text
    # The original request is still answered from the record.
    assert post(server, request("conflict", "one"), "key-conflict").content == first.content
    assert len(entries(server, "conflict")) == 1


def test_request_field_works_as_the_header(server):
    body = {**request("by field"), "IdempotencyKey": "key-field"}
    first = post(server, body)
    assert first.status_code == 200, first.text
    assert post(server, body).content == first.content
    # The header with the same key is the same Send.
    assert post(server, body, "key-field").content == first.content
    assert post(server, request("by field"), "key-field").content == first.content
    both = post(server, body, "other-key")
    assert both.status_code == 400 and both.json()["Code"] == "user"
    assert len(entries(server, "by field")) == 1


def test_bad_keys_are_clear_errors(server):
    for key in ("", "x" * 256):
        response = post(server, request("bad key"), key)
        assert response.status_code == 400 and response.json()["Code"] == "user", (key, response.text)
    long_field = post(server, {**request("bad key"), "IdempotencyKey": "y" * 256})
    assert long_field.status_code == 400 and long_field.json()["Code"] == "user"
    assert entries(server, "bad key") == []


def test_failed_send_keeps_no_key(server):
    bad = post(server, {**request("failed first"), "From": [{"Address": "nobody@example.org"}]}, "key-failed")
    assert bad.status_code == 400 and bad.json()["Code"] == "badFrom"
    good = post(server, request("failed first"), "key-failed")
    assert good.status_code == 200, good.text
    assert len(entries(server, "failed first")) == 1


def test_without_key_every_send_queues(server):
    for _ in range(2):
        assert post(server, request("no key")).status_code == 200
    assert len(entries(server, "no key")) == 2


def test_keys_expire_after_24_hours(server):
    first = post(server, request("old key"), "key-old")
    assert first.status_code == 200
    # The record as it would be a day and an hour later.
    execute(server.config, "update idempotency_keys set created = created - 25 * 3600 where key = 'key-old'")
    again = post(server, request("old key", "different now"), "key-old")
    assert again.status_code == 200, again.text
    assert again.json()["Submissions"] != first.json()["Submissions"]
    assert len(entries(server, "old key")) == 2
    # Old records are pruned as new keys are recorded.
    rows = execute(server.config, "select count(*) from idempotency_keys where created < ?", (time.time() - 24 * 3600,))
    assert rows[0][0] == 0


def test_key_survives_restart(new_server):
    server = new_server()
    server.start()
    first = post(server, request("restarted"), "key-restart")
    assert first.status_code == 200
    server.stop()
    server.start()
    assert post(server, request("restarted"), "key-restart").content == first.content
    conflict = post(server, request("restarted", "changed"), "key-restart")
    assert conflict.json()["Code"] == "idempotencyConflict"
    server.stop()
    assert len(entries(server, "restarted")) == 1


def test_sigkill_right_after_the_answer(new_server):
    server = new_server()
    server.start()
    first = post(server, request("killed"), "key-kill")
    assert first.status_code == 200
    server.kill()
    server.start()
    assert post(server, request("killed"), "key-kill").content == first.content
    server.wait_for(lambda: inbox(server, "killed"))
    time.sleep(1.2)
    assert len(inbox(server, "killed")) == 1 and len(entries(server, "killed")) == 1
    server.stop()


@pytest.mark.slow
def test_sigkill_during_keyed_sends_then_retry_sends_each_once(new_server):
    """Sends in flight when the server is killed may or may not have been queued; repeating each under its
    key after the restart queues the ones that were not and answers the others, so each arrives once."""
    server = new_server()
    server.start()
    answers: dict[str, str] = {}  # subject -> body of the 200, or "" without one
    lock = threading.Lock()
    stop = threading.Event()
    counter = [0]

    def sending():
        with httpx.Client(base_url=server.base_url, auth=(ADDRESS, PASSWORD), timeout=10) as c:
            while not stop.is_set():
                with lock:
                    counter[0] += 1
                    subject = f"keyed {counter[0]}"
                    answers[subject] = ""
                try:
                    response = post(server, request(subject), subject, c)
                except httpx.HTTPError:
                    return
                with lock:
                    answers[subject] = response.text if response.status_code == 200 else ""

    threads = [threading.Thread(target=sending) for _ in range(8)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while sum(1 for a in list(answers.values()) if a) < 40 and time.monotonic() < deadline:
        time.sleep(0.01)
    server.kill()
    stop.set()
    for t in threads:
        t.join(15)
    server.start()
    for subject, answer in sorted(answers.items()):
        again = post(server, request(subject), subject)
        assert again.status_code == 200, again.text
        if answer:
            assert again.text == answer
    server.wait_for(lambda: not queued(server), 60)
    time.sleep(1.2)
    subjects = [m["subject"] for m in server.messages() if m["subject"].startswith("keyed ")]
    assert sorted(subjects) == sorted(answers), "each keyed Send delivered exactly once"
    server.stop()


def test_python_client(server):
    from moxpy.webapi import Client, types
    from moxpy.webapi.client import _encode
    from moxpy.webapi.errors import WebapiError

    req = types.SendRequest(To=[types.NameAddress(Address="mox@localhost")], Subject="by client", Text="hi")
    # mox knows no IdempotencyKey and refuses unknown fields: not sent unless set.
    assert "IdempotencyKey" not in _encode(req)
    with Client(server.base_url, ADDRESS, PASSWORD) as c:
        first = c.Send(req, idempotency_key="key-client")
        assert c.Send(req, idempotency_key="key-client") == first
        with pytest.raises(WebapiError) as e:
            c.Send(types.SendRequest(To=req.To, Subject="by client", Text="other"), idempotency_key="key-client")
        assert e.value.code == "idempotencyConflict"
    assert len(entries(server, "by client")) == 1

"""Send jobs at a low rate (one message a second): a cancel mid-job stops the rest and drops what is still
queued; a member who unsubscribes while the job runs is skipped and counted; a SIGKILL mid-job and a
restart send everyone the message once."""

from __future__ import annotations

import collections
import time

import pytest

from .. import queuehelp
from ..localserve import LocalServer
from .jobshelp import cancel_job, create_job, get_job, make_list, set_status, token, wait_job

SCOPES = ["newsletter:send.write", "newsletter:send.read"]


def slow(config):
    config.Newsletter.SendRatePerMinute = 60


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = LocalServer(str(tmp_path_factory.mktemp("jobs-slow")), slow).start()
    yield srv
    srv.stop()


def body(list_id: int, subject: str) -> dict:
    return {"tenant_id": "mox", "list_id": list_id, "name": "slow", "subject": subject + " {{ email }}",
            "body_text": "hello"}


def queued(server, to: str) -> list:
    return queuehelp.queued(server, to=to)


def subjects(server, prefix: str) -> list[str]:
    return [m["subject"] for m in server.messages() if m["subject"].startswith(prefix + " ")]


def test_cancel_mid_job_stops_the_rest_and_drops_queued_messages(server):
    tok = token(server, SCOPES)
    # The temperror member sorts first: its message fails for now and waits in the queue for a retry.
    members = ["atemperror@example.com"] + [f"c{i:02d}@example.com" for i in range(30)]
    list_id = make_list(server, members)
    job_id = create_job(server, tok, body(list_id, "cancelme")).json()["id"]
    wait_job(server, tok, job_id, lambda b: b["counts"]["delivered"] >= 2 and b["counts"]["delayed"] == 1)

    response = cancel_job(server, tok, job_id)
    assert response.status_code == 200, response.text
    canceled = response.json()
    assert canceled["status"] == "canceled" and canceled["finished_at"] is not None
    # The delayed one is dropped from the queue, and so is one queued a moment before and not yet delivered.
    assert canceled["counts"]["canceled"] >= 1
    assert canceled["counts"]["delayed"] == 0
    reached = canceled["counts"]["recipients"]
    assert 3 <= reached < len(members)
    assert not queued(server, "atemperror@example.com")

    time.sleep(3)  # three more messages' time at the rate
    after = get_job(server, tok, job_id).json()
    assert after["status"] == "canceled"
    assert after["counts"]["recipients"] == reached
    assert after["counts"]["delivered"] + after["counts"]["queued"] + after["counts"]["canceled"] == reached
    assert len(subjects(server, "cancelme")) == after["counts"]["delivered"] + after["counts"]["queued"]
    assert cancel_job(server, tok, job_id).json()["status"] == "canceled"


def test_a_member_who_unsubscribes_during_the_job_is_skipped_and_counted(server):
    tok = token(server, SCOPES)
    members = [f"u{i}@example.com" for i in range(5)]
    list_id = make_list(server, members)
    job_id = create_job(server, tok, body(list_id, "unsub")).json()["id"]
    wait_job(server, tok, job_id, lambda b: b["counts"]["recipients"] >= 1)
    set_status(server, "mox", list_id, "u4@example.com", "unsubscribed")
    done = wait_job(server, tok, job_id, lambda b: b["status"] == "finished" and not b["counts"]["queued"])
    assert done["counts"]["recipients"] == 5
    assert done["counts"]["unsubscribed"] == 1 and done["counts"]["delivered"] == 4
    assert "unsub u4@example.com" not in subjects(server, "unsub")


@pytest.mark.slow
def test_a_sigkill_mid_job_and_a_restart_send_everyone_once(new_server):
    def fast(config):
        config.Newsletter.SendRatePerMinute = 600  # ten a second

    server = new_server(fast).start()
    tok = token(server, SCOPES)
    members = [f"k{i:03d}@example.com" for i in range(80)]
    list_id = make_list(server, members)
    job_id = create_job(server, tok, body(list_id, "killed")).json()["id"]
    wait_job(server, tok, job_id, lambda b: b["counts"]["recipients"] >= 25)
    server.kill()
    server.start()
    done = wait_job(server, tok, job_id, lambda b: b["status"] == "finished" and b["counts"]["delivered"] == 80,
                    timeout=90)
    assert done["counts"]["recipients"] == 80
    seen = collections.Counter(subjects(server, "killed"))
    assert seen == collections.Counter(f"killed {m}" for m in members)

"""Crash safety: kill the server with SIGKILL while Sends are in flight and
the queue is delivering, start it again, and check that every Send that
got 200 is delivered exactly once, and nothing else is."""

import shutil
import subprocess
import threading
import time

import pytest

import httpx

from ..localserve import ADDRESS, PASSWORD
from ..queuehelp import queued, retired_entries

SENDERS = 8


def sending(server, stop: threading.Event, outcomes: dict, lock: threading.Lock, counter: list):
    """Send distinct messages until stopped; note which got 200."""
    with httpx.Client(base_url=server.base_url, auth=(ADDRESS, PASSWORD), timeout=10) as client:
        while not stop.is_set():
            with lock:
                counter[0] += 1
                subject = f"crash {counter[0]}"
            request = '{"To": [{"Address": "mox@localhost"}], "Subject": "%s", "Text": "hi"}' % subject
            try:
                response = client.post("Send", data={"request": request})
                outcome = "ok" if response.status_code == 200 else f"http {response.status_code}"
            except httpx.HTTPError:
                outcome = "no answer"
            with lock:
                outcomes[subject] = outcome
            if outcome == "no answer":
                return


def crash_round(server, outcomes: dict, counter: list, accepted_before_kill: int) -> None:
    stop = threading.Event()
    lock = threading.Lock()
    threads = [threading.Thread(target=sending, args=(server, stop, outcomes, lock, counter)) for _ in range(SENDERS)]
    for t in threads:
        t.start()
    target = sum(1 for o in outcomes.values() if o == "ok") + accepted_before_kill
    deadline = time.monotonic() + 30
    while sum(1 for o in list(outcomes.values()) if o == "ok") < target and time.monotonic() < deadline:
        time.sleep(0.01)
    server.kill()  # SIGKILL: no shutdown, Sends and deliveries cut off mid-way
    stop.set()
    for t in threads:
        t.join(15)


def assert_delivered_exactly_once(server, outcomes: dict, at_least: int) -> None:
    """After the restart: every Send with 200 is delivered once, and nothing else is."""
    accepted = {s for s, o in outcomes.items() if o == "ok"}
    assert len(accepted) >= at_least

    def inbox() -> list[str]:
        return [m["subject"] for m in server.messages() if m["subject"].startswith("crash ")]

    server.wait_for(lambda: accepted <= set(inbox()) and not queued(server), 60)
    time.sleep(1.5)  # a worker rescan later: nothing more arrives
    delivered = inbox()
    duplicates = sorted({s for s in delivered if delivered.count(s) > 1})
    assert duplicates == [], f"delivered more than once: {duplicates}"
    # Only messages that were sent: those with 200, and possibly some whose
    # answer was cut off by the kill after they were stored.
    assert set(delivered) <= set(outcomes)
    assert all(outcomes[s] == "no answer" for s in set(delivered) - accepted)


@pytest.mark.slow
def test_sigkill_during_sends_loses_and_duplicates_nothing(new_server):
    server = new_server(lambda c: setattr(c.Queue, "BackoffFirst", 0.5))
    outcomes: dict[str, str] = {}
    counter = [0]
    for accepted in (60, 40):
        server.start()
        crash_round(server, outcomes, counter, accepted)
    server.start()

    assert_delivered_exactly_once(server, outcomes, at_least=100)
    for r in retired_entries(server):
        assert r.event == "delivered"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("strace") is None, reason="strace not installed (Debian package strace)")
def test_sigkill_in_the_middle_of_a_group_commit(new_server):
    """Every fsync of the process that answers Sends is held up (strace's fault injection), so each
    commit covers many Sends and lasts a while; the server is killed while Sends wait on one."""
    server = new_server(lambda c: setattr(c.Queue, "BackoffFirst", 0.5))
    server.start()
    # -f with -p: every thread of the process, the database writers among them.
    tracer = subprocess.Popen(["strace", "-f", "-o", "/dev/null", "-p", str(server.proc.pid),
                               "-e", "trace=fsync,fdatasync", "-e", "inject=fsync,fdatasync:delay_enter=300000"],
                              stderr=subprocess.PIPE, text=True)
    try:
        assert "attached" in tracer.stderr.readline()
        time.sleep(0.5)  # the other threads' attach lines
        outcomes: dict[str, str] = {}
        lock = threading.Lock()
        stop = threading.Event()
        counter = [0]
        threads = [threading.Thread(target=sending, args=(server, stop, outcomes, lock, counter))
                   for _ in range(2 * SENDERS)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while sum(1 for o in list(outcomes.values()) if o == "ok") < 30 and time.monotonic() < deadline:
            time.sleep(0.01)
        with lock:
            # Every sender has one Send out; almost all of their time is the commit.
            answered = len(outcomes)
            server.kill()
        stop.set()
        for t in threads:
            t.join(15)
    finally:
        tracer.kill()
        tracer.wait()
    in_flight = counter[0] - answered
    assert in_flight >= SENDERS, f"only {in_flight} Sends were waiting when the server was killed"

    server.start()
    assert_delivered_exactly_once(server, outcomes, at_least=30)

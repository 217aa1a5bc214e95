"""Two nodes of one server: two localserve processes (each with both of its
processes, its own data directory and ports) on one PostgreSQL database.
Sends accepted by node A are delivered once each, by whichever node claims
them, and an IDLE session on node B hears of every one; flags set over
IMAP on B are what A's IMAP shows. A node killed with deliveries in flight
leaves them to the other once its claims run out, each delivered once."""

import imaplib
import json
import time

import pytest

from .localserve import ADDRESS, PASSWORD
from .queue.test_queue_crash import assert_delivered_exactly_once, crash_round
from .queuehelp import queued, retired_entries


@pytest.fixture
def two_nodes(new_server, pg_dsn):
    def configure(config):
        config.Storage = "postgresql"
        config.PostgreSQL.DSN = pg_dsn

    a = new_server(configure).start()
    b = new_server(configure).start()
    return a, b


def login(srv) -> imaplib.IMAP4:
    imap = imaplib.IMAP4("127.0.0.1", srv.ports["IMAP"])
    imap.login(ADDRESS, PASSWORD)
    imap.select("Inbox")
    return imap


@pytest.mark.slow
def test_sends_on_one_node_are_delivered_once_and_heard_on_the_other(two_nodes):
    a, b = two_nodes
    idle = login(b)
    tag = idle._new_tag()
    idle.send(tag + b" IDLE\r\n")
    assert idle.readline().startswith(b"+")

    subjects = [f"two nodes {i}" for i in range(20)]
    for subject in subjects:
        request = json.dumps({"To": [{"Address": ADDRESS}], "Subject": subject, "Text": "hi"})
        response = a.call("Send", request)
        assert response.status_code == 200, response.text

    # B's IDLE session is told of each delivery (the 20 Sends, whichever node delivered them).
    idle.sock.settimeout(20)
    exists = 0
    deadline = time.monotonic() + 30
    while exists < len(subjects) and time.monotonic() < deadline:
        line = idle.readline()
        if line.endswith(b" EXISTS\r\n"):
            exists = int(line.split()[1])
    assert exists == len(subjects)
    idle.send(b"DONE\r\n")
    while not idle.readline().startswith(tag):
        pass
    idle.sock.settimeout(None)

    # Each delivered once: 20 messages in the Inbox, 20 retired queue entries, none left.
    a.wait_for(lambda: not queued(a), 15)
    typ, [uids] = idle.uid("SEARCH", "ALL")
    assert len(uids.split()) == len(subjects)
    retired = [r for r in retired_entries(a) if r.subject in subjects]
    assert sorted(r.subject for r in retired) == sorted(subjects)
    assert all(r.event == "delivered" for r in retired)

    # A flag set on B is seen on A.
    first = uids.split()[0].decode()
    assert idle.uid("STORE", first, "+FLAGS", "(\\Flagged)")[0] == "OK"
    other = login(a)
    typ, data = other.uid("FETCH", first, "(FLAGS)")
    assert b"\\Flagged" in data[0]
    other.logout()
    idle.logout()
    for srv in (a, b):
        assert srv.stop() == 0
        assert "Traceback" not in "".join(srv.output)


@pytest.mark.slow
def test_a_node_killed_mid_queue_leaves_its_work_to_the_other(new_server, pg_dsn):
    def configure(config):
        config.Storage = "postgresql"
        config.PostgreSQL.DSN = pg_dsn
        config.PostgreSQL.ClaimLease = 3
        config.Queue.BackoffFirst = 0.5

    a = new_server(configure).start()
    b = new_server(configure).start()
    outcomes: dict[str, str] = {}
    # Sends to a until 40 are accepted, then a is killed (SIGKILL) with deliveries in flight.
    crash_round(a, outcomes, [0], 40)
    # b settles what a was attempting once a's claims run out, and delivers the rest: each once.
    assert_delivered_exactly_once(b, outcomes, at_least=40)
    # It did take work over: attempts a had started, reconciled on b.
    assert any("reconciled interrupted attempt" in line for line in b.output)
    assert b.stop() == 0
    assert "Traceback" not in "".join(b.output)

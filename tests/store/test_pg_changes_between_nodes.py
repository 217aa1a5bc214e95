"""Two nodes on one PostgreSQL database (two stores in one test process,
each with its own node name): a change committed on one is announced to
the other's subscribers within a second, as the Change records the first
announced, once, and never back to the node that made it; a node whose
listening connection was cut reads what it missed from the change log."""

import asyncio
import time

import pytest

from moxpy.store.pg.accounts import PgStore


@pytest.fixture
def nodes(pg_dsn):
    loop = asyncio.new_event_loop()
    a, b = PgStore(pg_dsn, node="node-a"), PgStore(pg_dsn, node="node-b")
    loop.run_until_complete(a.start())
    loop.run_until_complete(b.start())
    wait(loop, lambda: a._listener.listening and b._listener.listening)
    yield a, b, loop
    a.close()
    b.close()
    loop.run_until_complete(asyncio.sleep(0))
    loop.close()


def heard(store, name="mox"):
    got = []
    store.account(name).subscribe(got.append)
    return got


def wait(loop, predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "not announced in time"
        loop.run_until_complete(asyncio.sleep(0.02))


def test_a_delivery_on_one_node_is_announced_on_the_other(nodes):
    a, b, loop = nodes
    on_a, on_b = heard(a), heard(b)
    inbox = a.account("mox").mailbox("Inbox")
    started = time.monotonic()
    message = loop.run_until_complete(a.account("mox").deliver(b"Subject: one\r\n\r\nhi\r\n", "Inbox"))
    wait(loop, lambda: any(c.kind == "added" for c in on_b))
    assert time.monotonic() - started < 1.5
    [added] = [c for c in on_b if c.kind == "added"]
    assert (added.mailbox_id, added.uids, added.msg_ids) == (inbox.id, [message.uid], [message.id])
    assert added.modseq == message.modseq
    # The committing node heard it once, from its own commit, not again from the other's notification.
    loop.run_until_complete(asyncio.sleep(0.3))
    assert [c.kind for c in on_a] == ["added"]
    assert [c.kind for c in on_b] == ["added"]


def test_flags_mailboxes_and_expunges_cross_in_commit_order(nodes):
    a, b, loop = nodes
    acc_a = a.account("mox")
    on_b = heard(b)
    m1 = loop.run_until_complete(acc_a.deliver(b"Subject: 1\r\n\r\n1\r\n", "Inbox"))
    m2 = loop.run_until_complete(acc_a.deliver(b"Subject: 2\r\n\r\n2\r\n", "Inbox"))
    inbox = acc_a.mailbox("Inbox")
    loop.run_until_complete(acc_a.change_flags([m1.id, m2.id], "add", ["\\Seen", "$label1"]))
    loop.run_until_complete(acc_a.create_mailbox("Projects"))
    loop.run_until_complete(acc_a.delete(m1.id))
    wait(loop, lambda: any(c.kind == "removed" for c in on_b))
    kinds = [c.kind for c in on_b]
    assert kinds == ["added", "added", "keywords", "flags", "mailbox_created", "removed"], kinds
    flags = on_b[3]
    assert flags.uids == [m1.uid, m2.uid] and "$label1" in flags.added
    assert on_b[4].mailbox_name == "Projects"
    assert (on_b[5].mailbox_id, on_b[5].uids) == (inbox.id, [m1.uid])
    # What b's own reads show agrees with what it was told.
    assert b.account("mox").uids(inbox.id) == [m2.uid]


def test_what_was_missed_while_not_listening_is_read_from_the_log(nodes):
    a, b, loop = nodes
    on_b = heard(b)
    b._listener.stop()  # as if its connection to PostgreSQL was cut
    loop.run_until_complete(asyncio.sleep(0.05))
    loop.run_until_complete(a.account("mox").deliver(b"Subject: missed\r\n\r\nhi\r\n", "Inbox"))
    loop.run_until_complete(asyncio.sleep(0.3))
    assert on_b == []
    loop.run_until_complete(b.start())  # listening again: every open account reads its log
    wait(loop, lambda: b._listener.listening)
    wait(loop, lambda: [c.kind for c in on_b] == ["added"])

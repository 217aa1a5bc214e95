"""Nodes sharing one PostgreSQL server database (moxpy/store/sqlite/leases.py):
a due queue entry or webhook is claimed by one node at a time, and the
claim of a node that went away is taken over once its lease has ended."""

import asyncio
import threading
import time
from dataclasses import replace

import pytest

from moxpy.store.queue import EntryFilter
from moxpy.store.sqlite.leases import QUEUE_LEASE, WEBHOOK_LEASE

from .test_queue_store import message_of, new_entry
from .test_serverdb_store import hook


@pytest.fixture
def nodes(pg_dsn):
    """Two nodes on one database, and a function running a coroutine."""
    from moxpy.store.pg.serverdb import PgServerDatabase

    loop = asyncio.new_event_loop()
    a, b = PgServerDatabase(pg_dsn, node="a"), PgServerDatabase(pg_dsn, node="b")
    yield a, b, loop.run_until_complete
    a.close()
    b.close()
    loop.close()


def submit_due(db, run, count: int) -> list[int]:
    entries = [replace(new_entry(f"r{i}@example.com"), next_attempt=0.0) for i in range(count)]
    return run(db.queue.submit(message_of(100), entries))


def test_concurrent_claims_hand_out_each_entry_once(nodes):
    a, b, run = nodes
    ids = submit_due(a, run, 60)
    now = time.time()
    claimed: list[tuple[str, int]] = []
    lock = threading.Lock()
    start = threading.Barrier(4)

    def worker(db, name):
        mine: list[int] = []  # what this worker attempts, as the queue worker's entries in flight
        start.wait()
        while True:
            got = db.queue.due(now, mine, 3)
            if not got:
                return
            mine.extend(e.id for e in got)
            with lock:
                claimed.extend((name, e.id) for e in got)

    # Two threads per node; each node's threads share its read connection, the nodes have their own.
    threads = [threading.Thread(target=worker, args=(db, name)) for db, name in ((a, "a"), (b, "b")) * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    by_node = {name: {i for n, i in claimed if n == name} for name in ("a", "b")}
    assert not by_node["a"] & by_node["b"] and by_node["a"] and by_node["b"]
    assert by_node["a"] | by_node["b"] == set(ids)
    # A node is handed its own claims again (how it goes on with them), never the other's.
    assert {e.id for e in a.queue.due(now, [], 100)} == by_node["a"]


def test_an_expired_lease_is_taken_over(nodes):
    a, b, run = nodes
    [entry_id] = submit_due(a, run, 1)
    now = time.time()
    assert [e.id for e in a.queue.due(now, [], 10)] == [entry_id]
    assert b.queue.due(now, [], 10) == []
    assert a.queue.due(now, [], 10) != []  # its own claim
    # The other node waits for the lease, not for the entry's next attempt.
    assert b.queue.next_due([]) == pytest.approx(now + QUEUE_LEASE)
    assert a.queue.next_due([]) == 0.0

    # a marks the attempt and dies: its entry is not in doubt for b while the lease holds.
    def start(tx):
        tx.save(replace(tx.entry(entry_id), delivering=True, attempts=1))

    run(a.queue.transaction(start))
    assert b.queue.in_doubt() == [] and [e.id for e in a.queue.in_doubt([])] == [entry_id]
    assert a.queue.in_doubt([entry_id]) == []  # its own attempt, going on
    later = now + QUEUE_LEASE + 1
    # Once the lease ran out, the entry is in doubt for b (recovery settles it), not due: whether it arrived
    # must be known before it is attempted again.
    assert b.queue.due(later, [], 10) == []
    b.queue.lease = a.queue.lease = a.claim_lease = 0.5
    assert [e.id for e in a.queue.in_doubt([])] == [entry_id]  # a's claim again, shorter
    time.sleep(0.3)
    assert a.renew_claims(time.time()) == 1  # still alive: renewed
    time.sleep(0.3)
    assert b.queue.in_doubt() == []
    time.sleep(0.3)  # a is gone: no more renewals
    assert [e.id for e in b.queue.in_doubt()] == [entry_id]  # b claims it
    assert a.queue.in_doubt() == [] and a.queue.due(later, [], 10) == []  # b holds it now

    # Recording the outcome releases the claim: the retry may go to either node.
    def done(tx):
        tx.save(replace(tx.entry(entry_id), delivering=False, next_attempt=later))

    b.queue.lease = a.queue.lease = QUEUE_LEASE

    run(b.queue.transaction(done))
    assert [e.id for e in a.queue.due(later, [], 10)] == [entry_id]
    assert a.queue.queued(EntryFilter(ids=[entry_id]))[0].attempts == 1


def test_one_node_at_a_time_posts_to_a_url(nodes):
    a, b, run = nodes
    ids = [run(a.webhooks.transaction(lambda tx: tx.add(hook("http://r/", next_attempt=1.0)))) for _ in range(3)]
    now = time.time()
    assert b.webhooks.due_urls(now, [], 10) == ["http://r/"]
    assert [h.id for h in a.webhooks.due("http://r/", now, [], 1)] == ids[:1]
    # a posts to the URL: b leaves all of its webhooks alone, also those a did not claim.
    assert b.webhooks.due_urls(now, [], 10) == []
    assert b.webhooks.due("http://r/", now, [], 10) == []
    assert b.webhooks.next_due() == pytest.approx(now + WEBHOOK_LEASE)

    # a records its attempt (a retry later): the claim is released, b may go on with the URL.
    first = a.webhooks.get(ids[0])
    run(a.webhooks.transaction(lambda tx: tx.save(replace(first, attempts=1, next_attempt=now + 60))))
    assert [h.id for h in b.webhooks.due("http://r/", now, [], 10)] == ids[1:]
    # b goes away with its claims; once they have run out, a takes the URL over.
    assert a.webhooks.due("http://r/", now, [], 10) == []
    later = now + WEBHOOK_LEASE + 1
    assert a.webhooks.due_urls(later, [], 10) == ["http://r/"]
    assert [h.id for h in a.webhooks.due("http://r/", later, [], 10)] == ids[1:] + ids[:1]  # as they are due


def test_the_change_position_moves_once_whichever_node_moves_it(nodes):
    # Two nodes' change webhook producers read the same position and try to move it at once: one queues the
    # webhooks and moves it, the other finds it moved (webhooks/changes.py), round after round.
    from moxpy.store import ChangePosition

    a, b, run = nodes

    def advance(expected, position):
        def tx_fn(tx):
            if tx.change_position("mox") != expected:
                return False
            tx.add(hook("http://changes/"))
            tx.set_change_position("mox", position)
            return True
        return tx_fn

    async def race(expected, position):
        return await asyncio.gather(a.webhooks.transaction(advance(expected, position)),
                                    b.webhooks.transaction(advance(expected, position)))

    expected = None
    for i in range(1, 21):
        position = ChangePosition(i, 1)
        assert sorted(run(race(expected, position))) == [False, True]
        expected = position
    assert a.webhooks.count() == 20

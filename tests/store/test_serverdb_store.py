"""The server database's queue and webhook stores through their interfaces,
on SQLite and on PostgreSQL alike: what the queue, its operators and the
webhook sender read and write, and removing an account."""

import time

import pytest

from moxpy.store.accounts import ChangePosition
from moxpy.store.queue import EntryFilter, RetiredEntry, Suppression
from moxpy.store.webhooks import Webhook, WebhookFilter

from .test_queue_store import message_of, new_entry, opened  # noqa: F401 (opened: a fixture)


def hook(url: str, queue_msg_id: int = 0, next_attempt: float = 0.0, account: str = "mox") -> Webhook:
    return Webhook(id=0, account=account, url=url, is_incoming=queue_msg_id == 0, event="" if queue_msg_id == 0 else
                   "delivered", payload="{}", submitted=100.0, queue_msg_id=queue_msg_id, extra={"k": "v"},
                   authorization="Basic eA==", next_attempt=next_attempt)


def test_queue_operators_and_delivery_reads(opened):
    serverdb, _, run = opened
    store = serverdb.queue
    ids = run(store.submit(message_of(100), [new_entry("Ann@Example.com"), new_entry("bob@other.example")]))
    now = time.time()
    assert store.count() == 2 and store.due(now, [], 10) == []
    assert [e.id for e in store.queued(EntryFilter(to="ANN@"))] == [ids[0]]
    assert [e.id for e in store.queued(EntryFilter(domain="@OTHER.example"))] == [ids[1]]

    assert run(store.set_hold(EntryFilter(ids=[ids[1]]), True)) == 1
    assert run(store.set_hold(EntryFilter(ids=[ids[1]]), True)) == 0  # already held
    assert run(store.kick(EntryFilter(), now)) == 1  # held entries are not kicked
    assert [e.id for e in store.due(now, [], 10)] == [ids[0]] and store.due(now, [ids[0]], 10) == []
    assert store.next_due([]) == now and store.next_due([ids[0]]) is None

    # An attempt in progress, as a crash leaves it, and its recovery.
    def start(tx):
        entry = tx.entry(ids[0])
        entry.delivering, entry.attempts = True, 1
        tx.save(entry)

    run(store.transaction(start))
    assert [e.id for e in store.in_doubt()] == [ids[0]]
    run(store.clear_attempt(ids[0], uncount=True, next_attempt=now + 60))
    entry = store.queued(EntryFilter(ids=[ids[0]]))[0]
    assert (entry.delivering, entry.attempts, entry.next_attempt) == (False, 0, now + 60)
    run(store.clear_attempt(ids[0], uncount=True))
    assert store.queued(EntryFilter(ids=[ids[0]]))[0].attempts == 0  # never below zero

    assert store.sent_count("mox", 0) == 2 and store.sent_before("mox", "ann@example.com", now + 1)
    assert sorted(r for r, _ in store.recent_recipients("mox", 0)) == ["ann@example.com", "bob@other.example"]

    def retire(tx):
        entry = tx.entry(ids[1])
        tx.retire(entry, RetiredEntry.of(entry, retired=now, event="failed", success=False, keep_until=now + 60))

    run(store.transaction(retire))
    assert [e.id for e in store.retired(EntryFilter(success=False))] == [ids[1]]
    assert store.retired(EntryFilter(success=True)) == []


def test_suppressions_and_dsn_outbox(opened):
    serverdb, _, run = opened
    store = serverdb.queue
    s = Suppression(0, 1.0, "mox", "bob@example.com", "Bob@example.com", True, "asked")
    assert run(store.transaction(lambda tx: tx.add_suppression(s)))
    assert not run(store.transaction(lambda tx: tx.add_suppression(s)))  # there already
    [got] = store.suppressions("mox")
    assert (got.original_address, got.manual, got.reason) == ("Bob@example.com", True, "asked")
    assert store.suppression("mox", "bob@example.com") == got and store.suppression("other", "bob@example.com") is None
    assert run(store.transaction(lambda tx: tx.remove_suppression("mox", "bob@example.com")))
    assert store.suppressions("mox") == []

    run(store.transaction(lambda tx: tx.add_dsn("mox", "mox@localhost", b"\x00dsn\xff")))
    [dsn] = store.pending_dsns()
    assert (dsn.account, dsn.data) == ("mox", b"\x00dsn\xff")
    run(store.remove_dsn(dsn.id))
    assert store.pending_dsns() == []


def test_webhooks_queue_supersede_and_retire(opened):
    serverdb, _, run = opened
    store = serverdb.webhooks
    first = run(store.transaction(lambda tx: tx.add(hook("http://a/", 7, next_attempt=10.0))))
    second = run(store.transaction(lambda tx: tx.add(hook("http://a/", 7, next_attempt=20.0), supersede=True,
                                                     keep=60.0)))
    incoming = run(store.transaction(lambda tx: tx.add(hook("http://b/", next_attempt=5.0))))
    assert second > first and [h.id for h in store.queued(WebhookFilter())] == [incoming, second]
    [superseded] = store.retired(WebhookFilter(ids=[first]))
    assert (superseded.superseded_by, superseded.has_authorization, superseded.success) == (second, True, False)

    assert store.due_urls(30.0, [], 10) == ["http://b/", "http://a/"]
    assert store.due_urls(30.0, ["http://b/"], 10) == ["http://a/"]
    assert [h.id for h in store.due("http://a/", 30.0, [], 10)] == [second]
    assert store.due("http://a/", 30.0, [second], 10) == [] and store.next_due() == 5.0
    got = store.get(second)
    assert (got.authorization, got.extra, got.is_incoming) == ("Basic eA==", {"k": "v"}, False)
    assert [h.id for h in store.queued(WebhookFilter(event="incoming"))] == [incoming]
    assert run(store.kick(WebhookFilter(ids=[second]), 1.0)) == 1 and store.get(second).next_attempt == 1.0

    # Retired twice (a retry of the same outcome): the second replaces the first.
    for success in (False, True):
        run(store.transaction(lambda tx: tx.retire(second, got.retired(success=success, now=150.0, keep=60.0))))
    assert [(h.id, h.success) for h in store.retired(WebhookFilter(queue_msg_id=7))] == [(second, True), (first, False)]
    assert run(store.cleanup(200.0)) == 1 and run(store.cleanup(300.0)) == 1 and store.count() == 1


def test_change_positions_and_signing_secrets(opened):
    serverdb, _, run = opened
    store = serverdb.webhooks
    for position in (ChangePosition(3, 1), ChangePosition(5, 2)):
        run(store.transaction(lambda tx: tx.set_change_position("mox", position)))
    assert store.change_positions() == {"mox": ChangePosition(5, 2)}
    run(store.transaction(lambda tx: tx.set_change_position("mox", None)))
    assert store.change_positions() == {}

    assert run(store.add_signing_secret("mox", "outgoing", "s1", 100.0, None))
    assert not run(store.add_signing_secret("mox", "outgoing", "s2", 100.0, None))  # has one
    assert run(store.add_signing_secret("mox", "outgoing", "s2", 200.0, 60.0))
    assert store.signing_secrets("mox", "outgoing", 230.0) == ["s2", "s1"]
    assert store.signing_secrets("mox", "outgoing", 270.0) == ["s2"]


def test_remove_account_leaves_other_accounts(opened):
    serverdb, _, run = opened
    mine = run(serverdb.queue.submit(message_of(100), [new_entry("a@example.com")]))
    run(serverdb.webhooks.transaction(lambda tx: tx.add(hook("http://a/", mine[0]))))
    run(serverdb.webhooks.transaction(lambda tx: tx.add(hook("http://a/", account="other"))))
    run(serverdb.queue.transaction(lambda tx: tx.add_suppression(
        Suppression(0, 1.0, "mox", "b@example.com", "b@example.com", True, ""))))
    counts = run(serverdb.remove_account("mox"))
    assert (counts["queue"], counts["webhooks"]) == (1, 1)
    assert serverdb.queue.count() == 0 and serverdb.queue.suppressions("mox") == []
    assert [h.account for h in serverdb.webhooks.queued(WebhookFilter())] == ["other"]
    assert serverdb.db.query("select * from queue_messages") == []
    assert not serverdb.has_account_data("mox")


@pytest.mark.parametrize("size", [100, 200_000])
def test_messages_of_any_size_come_back(opened, size):
    serverdb, _, run = opened
    data = message_of(size)
    ids = run(serverdb.queue.submit(data, [new_entry("a@example.com")]))
    assert serverdb.queue.message(serverdb.queue.queued(EntryFilter(ids=ids))[0]) == data

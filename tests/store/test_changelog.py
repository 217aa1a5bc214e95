"""An account's change log through the store's interface: every kind of
change leaves its entries in order, paging by position splits even one
transaction's entries, pruning expires old positions, and the log is
still there after the account is closed and opened again; on SQLite and
on PostgreSQL (the storage fixture)."""

import asyncio
import time

import pytest

from moxpy.store import ChangePosition, ChangePositionUnknown, ChangesExpired

from .. import storehelp
from ..storehelp import open_test_store


def message(n: int) -> bytes:
    return f"From: a@example.org\r\nSubject: message {n}\r\n\r\nbody {n}\r\n".encode()


def _opened(tmp_path, storage):
    loop = asyncio.new_event_loop()
    stores = []

    def open_account():
        store = open_test_store(tmp_path, storage)
        stores.append(store)
        return store.account("test")

    yield open_account, loop.run_until_complete
    for store in stores:
        store.close()
    loop.close()


@pytest.fixture
def opened(tmp_path, storage):
    yield from _opened(tmp_path, storage)


@pytest.fixture
def opened_sqlite(tmp_path):
    """For tests of an SQLite index made by an earlier version."""
    yield from _opened(tmp_path, "")


def events(entries) -> list[tuple]:
    return [(e.event, e.mailbox_name, e.uid) for e in entries]


def test_every_kind_of_change_is_logged_in_order(opened):
    open_account, run = opened
    account = open_account()
    _, start, more = account.changes_since(None, 100)
    assert not more
    first = run(account.deliver(message(1)))
    second = run(account.deliver(message(2)))
    run(account.change_flags([first.id, second.id], "add", ["\\Seen", "Custom"]))
    run(account.change_flags([first.id], "remove", ["\\Seen"]))
    run(account.create_mailbox("Projects/Alpha"))
    run(account.move([first.id], "Projects/Alpha"))
    run(account.copy([second.id], "Archive", mailbox_id=second.mailbox_id))
    run(account.rename_mailbox("Projects", "Work"))
    run(account.change_flags([second.id], "add", ["\\Deleted"]))
    run(account.expunge(second.mailbox_id))
    run(account.delete_mailbox("Work/Alpha"))
    entries, end, more = account.changes_since(start, 100)
    assert not more and end == entries[-1].position
    assert events(entries) == [
        ("messageNew", "Inbox", 1),
        ("messageNew", "Inbox", 2),
        ("messageUpdated", "Inbox", 1),
        ("messageUpdated", "Inbox", 2),
        ("messageUpdated", "Inbox", 1),
        ("mailboxNew", "Projects", 0),
        ("mailboxNew", "Projects/Alpha", 0),
        ("messageDeleted", "Inbox", 1),
        ("messageNew", "Projects/Alpha", 1),
        ("messageNew", "Archive", 1),
        ("mailboxRenamed", "Work", 0),
        ("mailboxRenamed", "Work/Alpha", 0),
        ("messageUpdated", "Inbox", 2),
        ("messageDeleted", "Inbox", 2),
        ("messageDeleted", "Work/Alpha", 1),
        ("mailboxDeleted", "Work/Alpha", 0),
    ]
    added = [(e.added, e.removed) for e in entries if e.event == "messageUpdated"]
    assert added == [(["\\Seen", "custom"], []), (["\\Seen", "custom"], []), ([], ["\\Seen"]),
                     (["\\Deleted"], [])]
    assert [e.old_name for e in entries if e.event == "mailboxRenamed"] == ["Projects", "Projects/Alpha"]
    assert [e.msg_id for e in entries[:2]] == [first.id, second.id]
    # The log's order is the account's modseq: a message's last change is its modseq.
    positions = [e.position for e in entries]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    assert account.message(second.id) is None
    moved = [e for e in entries if e.event == "messageNew" and e.mailbox_name == "Projects/Alpha"][0]
    assert moved.msg_id == first.id
    assert all(e.at <= time.time() for e in entries)


def test_paging_splits_one_transaction_and_survives_reopening(opened):
    open_account, run = opened
    account = open_account()
    _, start, _ = account.changes_since(None, 10)
    ids = [run(account.deliver(message(n))).id for n in range(5)]
    run(account.move(ids, "Archive"))  # ten entries of one transaction
    seen, position, pages = [], start, 0
    while True:
        entries, position, more = account.changes_since(position, 3)
        seen += entries
        pages += 1
        if not more:
            break
    assert pages == 5 and len(seen) == 15
    assert [e.event for e in seen[5:10]] == ["messageDeleted"] * 5
    assert len({e.position.modseq for e in seen[5:]}) == 1
    assert account.changes_since(position, 3) == ([], position, False)
    account.close()

    reopened = open_account()
    again, end, more = reopened.changes_since(start, 100)
    assert events(again) == events(seen) and end == position and not more


def test_pruning_expires_positions_before_it(opened):
    open_account, run = opened
    account = open_account()
    _, start, _ = account.changes_since(None, 10)
    run(account.deliver(message(1)))
    _, middle, _ = account.changes_since(None, 10)
    cutoff = time.time() + 0.001
    time.sleep(0.01)
    run(account.deliver(message(2)))
    assert run(account.prune_changes(cutoff)) == 1
    with pytest.raises(ChangesExpired):
        account.changes_since(start, 10)
    # The position just after what was pruned is still good.
    entries, _, _ = account.changes_since(middle, 10)
    assert events(entries) == [("messageNew", "Inbox", 2)]
    assert run(account.prune_changes(cutoff)) == 0
    # With every entry pruned, the current position is still a good one.
    assert run(account.prune_changes(time.time() + 1)) == 1
    _, now, _ = account.changes_since(None, 10)
    assert account.changes_since(now, 10) == ([], now, False)
    with pytest.raises(ChangesExpired):
        account.changes_since(middle, 10)


def test_a_position_ahead_of_the_log_is_unknown(opened):
    open_account, run = opened
    account = open_account()
    _, now, _ = account.changes_since(None, 10)
    with pytest.raises(ChangePositionUnknown):
        account.changes_since(ChangePosition(now.modseq + 1, 0), 10)
    with pytest.raises(ChangePositionUnknown):
        account.changes_since(ChangePosition(now.modseq, now.seq + 1), 10)


def test_an_index_from_before_the_change_log_starts_one_at_its_modseq(tmp_path, opened_sqlite):
    import sqlite3

    open_account, run = opened_sqlite
    account = open_account()
    run(account.deliver(message(1)))
    account.close()
    path = tmp_path / "accounts" / "test" / "index.db"
    conn = sqlite3.connect(path)
    conn.execute("drop table changes")
    storehelp.as_before_versions(conn)
    conn.execute("delete from meta where key like 'changes_%'")
    (modseq,) = conn.execute("select value from meta where key = 'modseq'").fetchone()
    conn.commit()
    conn.close()

    upgraded = open_account()
    _, now, _ = upgraded.changes_since(None, 10)
    assert now == ChangePosition(modseq, 0)
    with pytest.raises(ChangesExpired):  # nothing from before is known
        upgraded.changes_since(ChangePosition(modseq - 1, 0), 10)
    run(upgraded.deliver(message(2)))
    assert events(upgraded.changes_since(now, 10)[0]) == [("messageNew", "Inbox", 2)]


def test_the_config_and_the_store_know_the_same_events():
    from moxpy.config import CHANGE_WEBHOOK_EVENTS, OUTGOING_WEBHOOK_EVENTS
    from moxpy.queue.events import EVENTS
    from moxpy.store import CHANGE_EVENTS
    from moxpy.webapi.changes import EVENTS as DOCUMENTED

    assert list(CHANGE_WEBHOOK_EVENTS) == list(CHANGE_EVENTS) == list(DOCUMENTED)
    assert list(OUTGOING_WEBHOOK_EVENTS) == list(EVENTS)

"""The queue store's message bytes, through the QueueStore interface, on
SQLite and on PostgreSQL: which messages go into the database and which
into files (on PostgreSQL all go into the database), that they are removed
with the last entry using them and not before, and what cleanup sweeps.
The server's use of them is in tests/queue/test_queue_messages.py."""

import asyncio
import os
import time

import pytest

from moxpy.store.queue import EntryFilter, NewEntry, RetiredEntry
from moxpy.store.sqlite.queue import INLINE_MAX, ORPHAN_MIN_AGE

from ..serverdbhelp import open_server_database


@pytest.fixture
def opened(tmp_path, storage):
    """A fresh server database, its data directory, and a function running a coroutine on one loop."""
    loop = asyncio.new_event_loop()
    serverdb = open_server_database(tmp_path, storage)
    yield serverdb, str(tmp_path), loop.run_until_complete
    serverdb.close()
    loop.close()


def new_entry(rcpt_to: str) -> NewEntry:
    now = time.time()
    return NewEntry(account="mox", created=now, sender="mox@localhost", mail_from="mox@localhost", rcpt_to=rcpt_to,
                    rcpt_domain=rcpt_to.split("@")[1], from_id="", message_id="<m@localhost>", subject="s",
                    smtputf8=False, require_tls=None, extra={}, next_attempt=now + 3600)


def message_of(size: int) -> bytes:
    head = b"Subject: s\r\n\r\n"
    return head + b"x" * (size - len(head))


def files(data_dir: str) -> set[str]:
    root = os.path.join(data_dir, "queue")
    return {os.path.relpath(os.path.join(d, f), root) for d, _, names in os.walk(root) for f in names}


def rows(serverdb) -> list[str]:
    return [r[0] for r in serverdb.db.query("select path from queue_messages")]


def retire(store, entry_id: int, keep_until: float, fail: bool = False):
    """Retire the entry (kept until keep_until); fail: raise after, so nothing commits."""

    def fn(tx):
        entry = tx.entry(entry_id)
        tx.retire(entry, RetiredEntry.of(entry, retired=time.time(), event="delivered", success=True,
                                         keep_until=keep_until))
        if fail:
            raise RuntimeError("rolled back")

    return store.transaction(fn)


@pytest.mark.parametrize("size, in_file", [(INLINE_MAX, False), (INLINE_MAX + 1, True)])
def test_up_to_the_threshold_in_the_database_above_it_in_a_file(opened, storage, size, in_file):
    serverdb, data_dir, run = opened
    store = serverdb.queue
    in_file = in_file and not storage  # PostgreSQL keeps every message in the database
    data = message_of(size)
    ids = run(store.submit(data, [new_entry("a@example.com"), new_entry("b@example.com")]))
    entries = store.queued(EntryFilter(ids=ids))
    assert len({e.path for e in entries}) == 1 and entries[0].size == size
    assert [store.message(e) for e in entries] == [data, data]
    if in_file:
        assert files(data_dir) == {entries[0].path} and rows(serverdb) == []
    else:
        assert files(data_dir) == set() and rows(serverdb) == [entries[0].path]

    # Retiring one entry leaves the message to the other.
    run(retire(store, ids[0], time.time() + 3600))
    assert store.message(entries[1]) == data
    # A retirement that rolls back removes nothing.
    with pytest.raises(RuntimeError):
        run(retire(store, ids[1], time.time() + 3600, fail=True))
    assert store.message(entries[1]) == data
    # The last one takes the message with it; the retired entries stay.
    run(retire(store, ids[1], time.time() + 3600))
    assert files(data_dir) == set() and rows(serverdb) == []
    for e in entries:
        with pytest.raises(OSError):
            store.message(e)
    assert {r.id for r in store.retired(EntryFilter())} == set(ids)

    # Cleanup forgets retired entries past their keep time only.
    assert run(store.cleanup(time.time())) == 0
    assert run(store.cleanup(time.time() + 7200)) == 2
    assert store.retired(EntryFilter()) == []


def test_cleanup_sweeps_messages_no_entry_refers_to(opened, storage):
    serverdb, data_dir, run = opened
    store = serverdb.queue
    small = run(store.submit(message_of(100), [new_entry("a@example.com")]))
    large = run(store.submit(message_of(INLINE_MAX * 2), [new_entry("a@example.com")]))
    kept = {e.id: e.path for e in store.queued(EntryFilter(ids=small + large))}

    # What a crash between a file and its commit leaves, young and old, and
    # a row whose entries were removed by other means.
    orphans = os.path.join(data_dir, "queue", "ab")
    os.makedirs(orphans, exist_ok=True)
    for name in ("young", "old"):
        with open(os.path.join(orphans, name), "wb") as f:
            f.write(b"orphan")
    past = time.time() - ORPHAN_MIN_AGE - 10
    os.utime(os.path.join(orphans, "old"), (past, past))
    run(serverdb.db.write(lambda conn: conn.execute(
        "insert into queue_messages (path, data) values ('db:orphan', ?)", (b"\x00",))))

    run(store.cleanup(time.time()))
    if storage:
        # No message is a file there, and the store has no directory to sweep.
        assert files(data_dir) == {os.path.join("ab", name) for name in ("young", "old")}
        assert sorted(rows(serverdb)) == sorted(kept.values())
    else:
        assert files(data_dir) == {kept[large[0]], os.path.join("ab", "young")}
        assert rows(serverdb) == [kept[small[0]]]
    for e in store.queued(EntryFilter(ids=small + large)):
        assert len(store.message(e)) == e.size

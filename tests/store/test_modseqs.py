"""Modification sequences through the store's interface (RFC 7162 CONDSTORE,
QRESYNC): HIGHESTMODSEQ never goes down, changed_since finds changes by the
(mailbox_id, modseq) index, expunged_since says when the log was pruned."""

import asyncio
import sqlite3
import time

import pytest

from moxpy.store.sqlite import modseqs

from .. import storehelp
from ..storehelp import open_test_store


def message(n: int) -> bytes:
    return f"From: a@example.org\r\nSubject: message {n}\r\n\r\nbody {n}\r\n".encode()


def _opened(tmp_path, storage):
    loop = asyncio.new_event_loop()
    store = open_test_store(tmp_path, storage)
    account = store.account("test")
    yield account, loop.run_until_complete, store, tmp_path
    store.close()
    loop.close()


@pytest.fixture
def opened(tmp_path, storage):
    """An account on SQLite, then on PostgreSQL (the storage fixture)."""
    yield from _opened(tmp_path, storage)


@pytest.fixture
def opened_sqlite(tmp_path):
    yield from _opened(tmp_path, "")


def test_every_change_gives_a_new_modseq_and_highest_follows(opened):
    account, run, _, _ = opened
    inbox = account.mailbox("Inbox").id
    first, second, third = (run(account.deliver(message(i))) for i in range(3))
    assert first.modseq < second.modseq < third.modseq == account.highest_modseq(inbox)
    (flagged,) = run(account.change_flags([first.id], "add", ["\\Flagged"]))
    assert flagged.modseq > third.modseq
    assert [m.uid for m in account.changed_since(inbox, third.modseq - 1)] == [first.uid, third.uid]
    assert [m.uid for m in account.changed_since(inbox, third.modseq)] == [first.uid]
    keyword = run(account.change_flags([second.id], "add", ["todo"]))[0].modseq
    assert keyword > flagged.modseq and account.highest_modseq(inbox) == keyword

    # An expunge (here a move away) raises the source's HIGHESTMODSEQ though no message there has it.
    copied = run(account.copy([third.id], "Archive", mailbox_id=inbox))
    archive = account.mailbox("Archive").id
    assert account.changed_since(archive, keyword)[0].uid == copied.pairs[0][1]
    before = account.highest_modseq(inbox)
    run(account.move([second.id], "Archive", mailbox_id=inbox))
    after = account.highest_modseq(inbox)
    assert after > before and all(m.modseq < after for m in account.changed_since(inbox, 0))
    assert account.expunged_since(inbox, before) == [second.uid]
    assert account.expunged_since(inbox, after) == []


def test_pruning_past_a_modseq_makes_expunges_unknown_and_highest_stays(opened):
    account, run, _, _ = opened
    inbox = account.mailbox("Inbox").id
    msgs = [run(account.deliver(message(i))) for i in range(3)]
    run(account.change_flags([msgs[2].id], "add", ["\\Deleted"]))
    start = account.highest_modseq(inbox)
    run(account.delete(msgs[2].id))
    highest = account.highest_modseq(inbox)
    assert account.expunged_since(inbox, start) == [msgs[2].uid]
    run(account.prune_changes(time.time() + 1))
    assert account.expunged_since(inbox, start) is None
    assert account.expunged_since(inbox, highest) == []
    assert account.highest_modseq(inbox) == highest  # the pruned expunge still counts


def test_changed_since_reads_the_modseq_index_also_in_an_older_index(opened_sqlite):
    account, run, store, tmp_path = opened_sqlite
    inbox = account.mailbox("Inbox").id
    run(account.deliver(message(1)))
    path = tmp_path / "accounts" / "test" / "index.db"
    store.forget("test")
    with sqlite3.connect(path) as conn:
        conn.execute("drop index idx_messages_mailbox_id_modseq")
        storehelp.as_before_versions(conn)
    account = store.account("test")  # opening adds it again
    plan = account.db.query("explain query plan select id from messages where mailbox_id = ? and modseq > ?",
                            (inbox, 0))
    assert "idx_messages_mailbox_id_modseq" in " ".join(str(tuple(r)) for r in plan)
    assert modseqs.changed(account.db, inbox, 0)[0].subject == "message 1"

"""Accounts going away under a store that knows the server's accounts:
it refuses names the config does not have, lets go of accounts removed or
made anew meanwhile, tells their holders, and a write to a closed account
fails at once instead of waiting for ever. Purging empties every mailbox.
On SQLite and on PostgreSQL (the storage fixture)."""

import asyncio
import os

import pytest

from moxpy.store import AccountNotFound, open_store
from moxpy.store.db import DatabaseClosed

from ..storehelp import open_test_store


def message(n: int) -> bytes:
    return f"From: a@example.org\r\nSubject: message {n}\r\n\r\nbody {n}\r\n".encode()


@pytest.fixture
def run():
    loop = asyncio.new_event_loop()
    yield loop.run_until_complete
    loop.close()


def stored(tmp_path, storage, name: str) -> bool:
    """Whether the account has storage: its directory, or its PostgreSQL schema."""
    if not storage:
        return os.path.exists(tmp_path / "accounts" / name)
    import psycopg

    from moxpy.store.pg.accounts import schema_name

    with psycopg.connect(storage) as conn:
        return conn.execute("select 1 from pg_namespace where nspname = %s", (schema_name(name),)).fetchone() \
            is not None


class Names:
    """The config's account names: a new collection on each change, as a reloaded config has."""

    def __init__(self, *names: str):
        self.current = dict.fromkeys(names)

    def set(self, *names: str) -> None:
        self.current = dict.fromkeys(names)


def test_names_not_in_the_config_are_refused(tmp_path, storage):
    names = Names("alice")
    store = open_test_store(tmp_path, storage, names=lambda: names.current)
    try:
        store.account("alice")
        with pytest.raises(AccountNotFound):
            store.account("bob")
        assert stored(tmp_path, storage, "alice") and not stored(tmp_path, storage, "bob")
    finally:
        store.close()


def test_an_account_removed_from_the_config_is_closed_and_its_holders_told(tmp_path, storage, run):
    names = Names("alice")
    store = open_test_store(tmp_path, storage, names=lambda: names.current)
    try:
        alice = store.account("alice")
        told = []
        alice.on_removed(lambda: told.append(True))
        names.set()
        with pytest.raises(AccountNotFound):
            store.account("alice")
        assert told == [True]
        with pytest.raises(DatabaseClosed):
            run(alice.deliver(message(1)))
    finally:
        store.close()


def test_an_account_made_again_under_its_name_is_opened_afresh(tmp_path, storage, run):
    # Both processes of a server cache their accounts: one that missed the deletion must not write into
    # the deleted index.
    names = Names("alice")
    store = open_test_store(tmp_path, storage, names=lambda: names.current)
    try:
        old = store.account("alice")
        run(old.deliver(message(1)))
        other = open_test_store(tmp_path, storage)  # the process that removes it and makes it again
        assert run(other.remove("alice"))
        run(other.account("alice").deliver(message(2)))
        other.close()
        names.set("alice")  # the config was rewritten in between
        new = store.account("alice")
        assert new is not old
        stored = run(new.deliver(message(3)))
        inbox = new.mailbox("Inbox")
        assert [m.subject for m in new.messages(inbox.id, new.uids(inbox.id))] == ["message 2", "message 3"]
        assert stored.id == 2
    finally:
        store.close()


def test_remove_deletes_the_storage_and_forgets_the_account(tmp_path, storage, run):
    store = open_test_store(tmp_path, storage)
    try:
        account = store.account("alice")
        run(account.deliver(message(1)))
        assert run(store.remove("alice"))
        assert not stored(tmp_path, storage, "alice")
        if not storage:
            assert os.listdir(tmp_path / "accounts") == []
        assert not run(store.remove("alice"))
        fresh = store.account("alice")
        assert fresh is not account
        inbox = fresh.mailbox("Inbox")
        assert fresh.uids(inbox.id) == []
    finally:
        store.close()


def test_a_removal_cut_short_is_finished_at_the_next_open(tmp_path):
    os.makedirs(tmp_path / "accounts" / ".removed-0123" / "msg")
    open_store(str(tmp_path)).close()
    assert os.listdir(tmp_path / "accounts") == []


def test_purge_empties_every_mailbox_and_keeps_them(tmp_path, storage, run):
    store = open_test_store(tmp_path, storage)
    try:
        account = store.account("alice")
        run(account.create_mailbox("Projects"))
        for n in range(3):
            run(account.deliver(message(n)))
        run(account.deliver(message(9), "Projects"))
        changes = []
        account.subscribe(changes.append)
        names = [box.name for box in account.mailboxes()]
        assert run(account.purge()) == 4
        assert [box.name for box in account.mailboxes()] == names
        assert all(account.mailbox_status(box.id).messages == 0 for box in account.mailboxes())
        assert sorted((c.kind, account.mailbox_by_id(c.mailbox_id).name, c.uids) for c in changes) == \
            [("removed", "Inbox", [1, 2, 3]), ("removed", "Projects", [1])]
        assert account.check() == []
        assert run(account.purge()) == 0
    finally:
        store.close()

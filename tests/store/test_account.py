"""One account through the store's interface: moving, copying and
flagging messages by id, what subscribers are told, and what is still
there after the account is closed and opened again. Each runs on SQLite
and on PostgreSQL (the storage fixture)."""

import asyncio
import os

import pytest

from moxpy.store import FlagError, MailboxError, MailboxNotFound, MessageNotFound

from ..storehelp import open_test_store


def message(n: int) -> bytes:
    return f"From: a@example.org\r\nSubject: message {n}\r\n\r\nbody {n}\r\n".encode()


@pytest.fixture
def opened(tmp_path, storage):
    """A fresh account, the changes it announced, and a function running a coroutine on one loop."""
    loop = asyncio.new_event_loop()
    store = open_test_store(tmp_path, storage)
    account = store.account("test")
    changes = []
    account.subscribe(lambda change: changes.append((change, account.message(change.msg_ids[0])
                                                     if change.msg_ids else None)))
    yield account, changes, loop.run_until_complete
    store.close()
    loop.close()


def test_move_by_ids_keeps_ids_gives_new_uids_and_announces_after_commit(opened):
    account, changes, run = opened
    first, second = run(account.deliver(message(1))), run(account.deliver(message(2)))
    archive = account.mailbox("Archive")
    changes.clear()
    moved = run(account.move([second.id, first.id], "Archive"))
    assert moved.uidvalidity == archive.uidvalidity
    assert moved.pairs == [(first.uid, 1), (second.uid, 2)]
    assert [(m.id, m.mailbox_id, m.uid) for m in account.messages(archive.id, [1, 2])] == \
        [(first.id, archive.id, 1), (second.id, archive.id, 2)]
    assert [(c.kind, c.mailbox_id, c.uids) for c, _ in changes] == \
        [("removed", first.mailbox_id, [1, 2]), ("added", archive.id, [1, 2])]
    # Subscribers are told after the commit: what they read is the new state.
    assert all(seen.mailbox_id == archive.id for _, seen in changes)


def test_move_without_source_leaves_messages_already_there(opened):
    account, changes, run = opened
    first = run(account.deliver(message(1)))
    changes.clear()
    assert run(account.move([first.id], "INBOX")).pairs == []
    assert changes == []
    assert account.message(first.id).uid == first.uid


def test_move_from_a_mailbox_to_itself_is_refused_and_others_are_left_out(opened):
    account, _, run = opened
    inbox = run(account.deliver(message(1)))
    sent = run(account.deliver(message(2), "Sent"))
    with pytest.raises(MailboxError):
        run(account.move([inbox.id], "Inbox", mailbox_id=inbox.mailbox_id))
    moved = run(account.move([inbox.id, sent.id], "Trash", mailbox_id=inbox.mailbox_id))
    assert moved.pairs == [(inbox.uid, 1)]
    assert account.message(sent.id).mailbox_id == sent.mailbox_id


def test_move_and_copy_of_nothing_or_to_nowhere(opened):
    account, _, run = opened
    first = run(account.deliver(message(1)))
    for operation in (account.move, account.copy):
        with pytest.raises(MessageNotFound):
            run(operation([first.id + 100], "Archive", mailbox_id=first.mailbox_id))
        with pytest.raises(MessageNotFound):
            run(operation([], "Archive", mailbox_id=first.mailbox_id))
        with pytest.raises(MailboxNotFound):
            run(operation([first.id], "Nowhere", mailbox_id=first.mailbox_id))
    assert account.check() == []


def test_copy_is_a_new_message_with_the_same_bytes_and_flags(opened):
    account, _, run = opened
    first = run(account.deliver(message(1), flags=["\\Seen", "Label"]))
    copied = run(account.copy([first.id], "Archive", mailbox_id=first.mailbox_id))
    [copy] = account.messages(account.mailbox("Archive").id, [copied.pairs[0][1]])
    assert copy.id != first.id
    assert copy.flags == ["\\Seen", "label"]
    assert account.message_bytes(copy) == account.message_bytes(first) == message(1)
    assert account.mailbox("Archive").keywords == ["label"]
    run(account.delete(first.id))
    assert account.message_bytes(copy) == message(1)
    assert account.check() == []


def test_change_flags_add_remove_set(opened):
    account, changes, run = opened
    first, second = run(account.deliver(message(1))), run(account.deliver(message(2), flags=["\\Seen"]))
    changes.clear()
    origin = object()
    changed = run(account.change_flags([first.id, second.id], "add", ["\\SEEN", "Todo"], origin=origin))
    assert [(m.id, m.flags) for m in changed] == [(first.id, ["\\Seen", "todo"]), (second.id, ["\\Seen", "todo"])]
    # One flags change per difference made, each saying what its messages got.
    assert [(c.kind, c.origin is origin, c.uids, c.added) for c, _ in changes] == \
        [("keywords", True, [], []), ("flags", True, [first.uid], ["\\Seen", "todo"]),
         ("flags", True, [second.uid], ["todo"])]
    assert account.mailbox("Inbox").keywords == ["todo"]
    changed = run(account.change_flags([first.id, second.id], "remove", ["todo", "\\Flagged"]))
    assert [m.flags for m in changed] == [["\\Seen"], ["\\Seen"]]
    changed = run(account.change_flags([first.id], "set", ["$Forwarded"]))
    assert changed[0].flags == ["$Forwarded"]
    assert run(account.change_flags([first.id], "set", ["$forwarded"])) == []  # nothing changed
    # Keywords once used stay listed for the mailbox (RFC 3501 7.2.6 FLAGS).
    assert account.mailbox("Inbox").keywords == ["todo"]


def test_change_flags_refuses_bad_flags_before_looking_for_messages(opened):
    account, _, run = opened
    first = run(account.deliver(message(1)))
    with pytest.raises(FlagError):
        run(account.change_flags([first.id + 100], "add", ["\\Bogus"]))
    with pytest.raises(MessageNotFound):
        run(account.change_flags([first.id + 100], "add", ["\\Seen"]))
    with pytest.raises(MessageNotFound):
        run(account.change_flags([first.id], "add", ["\\Seen"], mailbox_id=first.mailbox_id + 1))
    with pytest.raises(ValueError):
        run(account.change_flags([first.id], "toggle", ["\\Seen"]))


def test_messages_and_claims_are_there_after_reopening(tmp_path, storage):
    store = open_test_store(tmp_path, storage)
    account = store.account("test")

    async def work():
        m = await account.deliver(message(1), "Inbox", flags=["\\Answered"])
        account.claim_recent(m.mailbox_id, m.uid)
        return m

    delivered = asyncio.run(work())
    store.close()
    store = open_test_store(tmp_path, storage, readonly=True)
    try:
        account = store.account("test")
        again = account.message(delivered.id)
        assert (again.uid, again.flags, again.subject) == (delivered.uid, ["\\Answered"], "message 1")
        assert account.recent_claimed(delivered.mailbox_id) == delivered.uid
        assert account.mailbox_status(delivered.mailbox_id).recent == 0
        with pytest.raises(PermissionError):
            asyncio.run(account.delete(delivered.id))
        with pytest.raises(FileNotFoundError):
            store.account("never-opened")
    finally:
        store.close()


def test_check_finds_a_message_without_its_file(opened, tmp_path, storage):
    account, _, run = opened
    first = run(account.deliver(message(1)))
    assert account.check() == []
    if storage:
        run(account.db.write(lambda conn: conn.execute("delete from message_contents where message_id = ?",
                                                       (first.id,))))
        assert account.check() == ["1 messages whose stored bytes are not their size"]
        return
    os.remove(os.path.join(tmp_path, "accounts", "test", "msg", first.ref))
    assert [p.split(",")[0] for p in account.check()] == ["1 messages without their file"]


def stored_bytes(account, tmp_path, storage) -> int:
    """How many message files, or rows of message bytes, the account's storage holds."""
    if storage:
        return account.db.query_one("select count(*) from message_contents")[0]
    return sum(len(names) for _, _, names in os.walk(os.path.join(tmp_path, "accounts", "test", "msg")))


def test_large_messages_are_kept_in_chunks_and_read_in_part(opened, storage):
    account, _, run = opened
    data = message(1) + b"x" * (600 * 1024) + b"\r\n"
    first = run(account.deliver(data))
    copied = run(account.copy([first.id], "Archive", mailbox_id=first.mailbox_id))
    [copy] = account.messages(account.mailbox("Archive").id, [copied.pairs[0][1]])
    assert account.message_bytes(first) == account.message_bytes(copy) == data
    if storage:
        from moxpy.store.pg import contents

        chunks = account.db.query("select message_id, length(data) from message_contents order by message_id, seq")
        chunk = contents.CHUNK
        assert chunks == [(m, n) for m in (first.id, copy.id) for n in (chunk, chunk, len(data) - 2 * chunk)]
        assert account.bodies.read_range(first.id, chunk - 3, 10) == data[chunk - 3:chunk + 7]
        assert account.message_bytes_cached(first) == data  # read just now
        run(account.delete(first.id))
        assert account.db.query_one("select count(*) from message_contents where message_id = ?", (first.id,))[0] == 0
        with pytest.raises(OSError):
            account.bodies.read(first.id, first.ref)
    assert account.message_bytes(copy) == data
    assert account.check() == []


def test_deliver_all_stores_every_message_or_none(opened, tmp_path, storage):
    account, changes, run = opened
    inbox = account.mailbox("Inbox")
    stored = run(account.deliver_all([(message(1), ["\\Seen"], 1000.0), (message(2), ["label"], None)], "Inbox"))
    assert [(m.uid, m.flags, m.received) for m in stored][:1] == [(1, ["\\Seen"], 1000.0)]
    assert [m.uid for m in stored] == [1, 2] and stored[1].flags == ["label"]
    # One "added" per message, as for single deliveries, after the keyword change.
    assert [(c.kind, c.uids) for c, _ in changes] == [("keywords", []), ("added", [1]), ("added", [2])]
    files = stored_bytes(account, tmp_path, storage)
    changes.clear()
    with pytest.raises(MailboxNotFound):
        run(account.deliver_all([(message(3), [], None), (message(4), [], None)], "Nowhere"))
    with pytest.raises(FlagError):
        run(account.deliver_all([(message(3), [], None), (message(4), ["\\Bogus"], None)], "Inbox"))
    assert account.uids(inbox.id) == [1, 2] and changes == []
    assert stored_bytes(account, tmp_path, storage) == files  # the files written for them are gone


def test_sqlite_implementation_has_every_operation_of_the_interface():
    import inspect

    from moxpy.store import accounts
    from moxpy.store.pg.accounts import PgStore
    from moxpy.store.sqlite import SQLiteAccount, SQLiteStore

    for interface, implementation in ((accounts.Account, SQLiteAccount), (accounts.Store, SQLiteStore),
                                      (accounts.Store, PgStore)):
        for name, method in vars(interface).items():
            if name.startswith("_") or not callable(method):
                continue
            implemented = getattr(implementation, name, None)
            assert implemented is not None, f"{implementation.__name__}.{name} missing"
            wanted = [(p.name, p.kind, p.default) for p in inspect.signature(method).parameters.values()]
            got = [(p.name, p.kind, p.default) for p in inspect.signature(implemented).parameters.values()]
            assert got == wanted, f"{implementation.__name__}.{name}"
            assert inspect.iscoroutinefunction(implemented) == inspect.iscoroutinefunction(method), name

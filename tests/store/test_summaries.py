"""Message summaries come from the index: filled when a message is stored,
kept by copy and move, and filled from the files when an index made by an
older version is opened; on SQLite and on PostgreSQL (the storage fixture)."""

import asyncio
import os
import sqlite3

import pytest

from moxpy.store import open_store

from .. import storehelp
from ..storehelp import open_test_store

MIXED = (b"From: Bob <bob@example.com>\r\nTo: a@example.org, \"C D\" <c@example.net>\r\nCc: e@example.com\r\n"
         b"Subject: =?utf-8?q?gr=C3=BC=C3=9Fe?=\r\nMessage-ID: <1@example.com>\r\nIn-Reply-To: <0@example.com>\r\n"
         b"Date: Tue, 3 Mar 2026 10:00:00 +0100\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n"
         b"\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
         b"Hi   there,\r\n  line two =E2=98=BA\r\n--b\r\nContent-Type: application/pdf\r\n"
         b"Content-Disposition: attachment; filename=a.pdf\r\n\r\nxx\r\n--b--\r\n")
TEXT_SIZE = len("Hi   there,\n  line two ☺".encode())  # the text part decoded, \n line ends


@pytest.fixture
def opened(tmp_path, storage):
    loop = asyncio.new_event_loop()
    store = open_test_store(tmp_path, storage)
    yield store, store.account("test"), loop.run_until_complete
    store.close()
    loop.close()


def test_summary_of_a_delivered_message(opened):
    _, account, run = opened
    stored = run(account.deliver(MIXED, flags=["\\Seen", "work"]))
    (s,) = account.summaries([stored.id])
    assert (s.id, s.uid, s.mailbox_name, s.size, s.flags) == (stored.id, 1, "Inbox", len(MIXED), ["\\Seen", "work"])
    assert s.subject == "grüße"
    assert s.from_ == [("Bob", "bob@example.com")]
    assert s.to == [("", "a@example.org"), ("C D", "c@example.net")]
    assert s.cc == [("", "e@example.com")]
    assert (s.message_id, s.in_reply_to) == ("<1@example.com>", "<0@example.com>")
    assert s.preview == "Hi there, line two ☺"
    assert s.has_attachments
    assert s.text_size == TEXT_SIZE
    assert s.html_size == 0
    assert s.date == stored.date and s.received == stored.received


def test_nul_characters_of_binary_content_are_spaces_in_the_index_and_kept_in_the_message(opened):
    _, account, run = opened
    data = (b"From: a\x00b <bob@example.com>\r\nSubject: n\x00ul\r\nMessage-ID: <a\x00b@example.com>\r\n"
            b"Content-Transfer-Encoding: binary\r\n\r\nbinary a\x00b\r\n")
    stored = run(account.deliver(data))
    (s,) = account.summaries([stored.id])
    assert (s.subject, s.message_id, s.preview) == ("n ul", "<a b@example.com>", "binary a b")
    assert account.message_bytes(stored) == data


def test_summaries_keep_the_order_asked_and_leave_out_unknown_ids(opened):
    _, account, run = opened
    ids = [run(account.deliver(MIXED)).id for _ in range(3)]
    assert [s.id for s in account.summaries([ids[2], 999, ids[0], ids[1]])] == [ids[2], ids[0], ids[1]]
    assert account.summaries([]) == []


def test_copy_and_move_keep_the_summary(opened):
    _, account, run = opened
    stored = run(account.deliver(MIXED))
    run(account.copy([stored.id], "Archive", mailbox_id=stored.mailbox_id))
    run(account.move([stored.id], "Sent"))
    archive = account.mailbox("Archive")
    (copy,) = account.messages(archive.id, account.uids(archive.id))
    moved, copied = account.summaries([stored.id, copy.id])
    assert moved.mailbox_name == "Sent" and copied.mailbox_name == "Archive"
    for s in (moved, copied):
        assert (s.preview, s.has_attachments, s.text_size, s.to) == \
            ("Hi there, line two ☺", True, TEXT_SIZE, [("", "a@example.org"), ("C D", "c@example.net")])


def test_an_index_of_an_older_version_gets_summaries_on_open(tmp_path):
    loop = asyncio.new_event_loop()
    store = open_store(str(tmp_path))
    stored = loop.run_until_complete(store.account("test").deliver(MIXED))
    store.close()
    # The index as the version before summaries left it: no summary columns, no full-text table.
    conn = sqlite3.connect(os.path.join(tmp_path, "accounts", "test", "index.db"))
    conn.execute("drop trigger messages_text_delete")
    conn.execute("drop table message_text")
    storehelp.as_before_versions(conn)
    for column in ("addr_from", "addr_to", "addr_cc", "in_reply_to", "preview", "has_attachments", "text_size",
                   "html_size"):
        conn.execute(f"alter table messages drop column {column}")
    conn.commit()
    conn.close()
    store = open_store(str(tmp_path))
    try:
        (s,) = store.account("test").summaries([stored.id])
        assert (s.preview, s.has_attachments, s.text_size, s.from_) == \
            ("Hi there, line two ☺", True, TEXT_SIZE, [("Bob", "bob@example.com")])
    finally:
        store.close()
        loop.close()


def test_words_go_with_their_message_however_it_is_removed(opened):
    from moxpy.store import MessageFilter

    _, account, run = opened
    run(account.create_mailbox("Old"))
    deleted, expunged, kept = (run(account.deliver(MIXED)) for _ in range(3))
    in_old = run(account.deliver(MIXED, "Old"))
    run(account.copy([kept.id], "Old", mailbox_id=kept.mailbox_id))
    assert account.summary_page(MessageFilter(text="grüße"), 10).total == 5
    run(account.delete(deleted.id))
    run(account.change_flags([expunged.id], "add", ["\\Deleted"]))
    run(account.expunge(expunged.mailbox_id))
    run(account.delete_mailbox("Old"))
    found = account.summary_page(MessageFilter(text="grüße"), 10)
    assert [s.id for s in found.summaries] == [kept.id] and found.total == 1
    assert account.db.query("select rowid from message_text")[0][0] == kept.id
    assert len(account.db.query("select rowid from message_text")) == 1
    assert in_old.id not in {s.id for s in found.summaries}

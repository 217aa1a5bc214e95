"""Sequence sets against a session's view of a mailbox: message sequence
numbers are positions among the UIDs the client was told of (RFC 3501
2.3.1.2), "*" is the last, and a UID range needs no existing ends (6.4.8).
The view is of a real account in a temporary directory."""

import asyncio

import pytest

from moxpy.imapserver import search
from moxpy.imapserver.syntax import parse_sequence_set
from moxpy.imapserver.view import MailboxView
from moxpy.store import open_store
from moxpy.store import search as criteria


@pytest.fixture(scope="module")
def views(tmp_path_factory):
    """Read-only views of an inbox with UIDs 1, 3, 4 and 6, and of an empty mailbox."""
    loop = asyncio.new_event_loop()
    store = open_store(str(tmp_path_factory.mktemp("view")))
    account = store.account("test")
    for n in range(1, 7):
        flags = ["\\Deleted"] if n in (2, 5) else []
        loop.run_until_complete(account.deliver(b"Subject: %d\r\n\r\nbody\r\n" % n, flags=flags))
    inbox = account.mailbox("Inbox")
    loop.run_until_complete(account.expunge(inbox.id))
    empty = loop.run_until_complete(account.create_mailbox("Empty"))
    yield MailboxView(account, inbox.id, True, None), MailboxView(account, empty.id, True, None)
    store.close()
    loop.close()


@pytest.fixture
def view(views):
    return views[0]


@pytest.mark.parametrize("text, by_uid, uids", [
    (b"1:*", False, [1, 3, 4, 6]),
    (b"2", False, [3]),
    (b"*", False, [6]),
    (b"3:2", False, [3, 4]),
    (b"4,1,2:3", False, [1, 3, 4, 6]),
    (b"1:*", True, [1, 3, 4, 6]),
    (b"2", True, []),
    (b"2:5", True, [3, 4]),
    (b"5:2", True, [3, 4]),
    (b"100:*", True, [6]),  # * is the highest UID, whatever the range's other end
    (b"7:9", True, []),
])
def test_sequence_sets_resolve_to_uids(view, text, by_uid, uids):
    assert view.resolve(parse_sequence_set(text), by_uid) == uids


def test_sequence_number_beyond_the_last(view):
    with pytest.raises(IndexError):
        view.resolve(parse_sequence_set(b"2:5"), False)


def test_sequence_numbers_in_an_empty_mailbox_are_beyond_the_last_but_ranges_to_star_name_nothing(views):
    empty = views[1]
    for text in (b"1", b"999999", b"1:2"):
        with pytest.raises(IndexError):
            empty.resolve(parse_sequence_set(text), False)
    assert empty.resolve(parse_sequence_set(b"1:*"), False) == []
    assert empty.resolve(parse_sequence_set(b"*"), False) == []
    assert empty.resolve(parse_sequence_set(b"1:5"), True) == []


def test_sequence_numbers_of_uids(view):
    assert [view.seq(uid) for uid in (1, 2, 3, 4, 5, 6, 7)] == [1, 0, 2, 3, 0, 4, 0]


def test_sequence_sets_as_uid_ranges_for_search(view):
    assert view.uid_ranges(parse_sequence_set(b"2:3,*"), False) == [(3, 4), (6, 6)]
    assert view.uid_ranges(parse_sequence_set(b"2:9"), False) == [(3, 6)]  # cut at the last message
    assert view.uid_ranges(parse_sequence_set(b"5:*"), True) == [(5, 6)]


def test_search_keys_become_store_criteria(view):
    tokens = [b"OR", b"2:3", b"UID", b"6", b"NOT", b"SEEN", b"SUBJECT", b"x"]
    assert search.parse(tokens, view) == criteria.And([
        criteria.Or(criteria.UIDRanges([(3, 4)]), criteria.UIDRanges([(6, 6)])),
        criteria.Not(criteria.Flag("\\seen", True)),
        criteria.Text("header", "x", name="Subject"),
    ])
    with pytest.raises(search.BadCharset):
        search.parse([b"CHARSET", b"KOI8-R", b"ALL"], view)

"""Search criteria as SQL (store.sqlite.search): which messages each
criterion selects, run over a real account index."""

import asyncio
from datetime import date

import pytest

from moxpy.store import search as s
from moxpy.store.sqlite import search as sqlsearch

from ..storehelp import open_test_store

MESSAGES = [
    # (flags, Date header, body)
    (["\\Seen"], "Sun, 25 Mar 2007 00:30:00 +1400", "first"),
    (["\\Seen", "\\Flagged", "Work"], "Mon, 26 Mar 2007 10:00:00 +0000", "second, longer body " + "x" * 500),
    ([], "Tue, 27 Mar 2007 23:30:00 -0500", "third mentions banana"),
]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def inbox(request, tmp_path_factory):
    """The messages in an account on SQLite, then on PostgreSQL (one database for the module)."""
    storage = "" if request.param == "sqlite" else request.getfixturevalue("postgresql").new_database()
    store = open_test_store(tmp_path_factory.mktemp("search"), storage)
    account = store.account("test")

    async def fill():
        for i, (flags, sent, body) in enumerate(MESSAGES):
            data = f"From: a@example.org\r\nSubject: number {i + 1}\r\nDate: {sent}\r\n\r\n{body}\r\n".encode()
            await account.deliver(data, "Inbox", flags=flags)

    asyncio.run(fill())
    yield account, account.mailbox("Inbox").id
    store.close()


@pytest.mark.parametrize("criteria, uids", [
    (s.And(), [1, 2, 3]),
    (s.Flag("\\SEEN"), [1, 2]),
    (s.Flag("\\seen", False), [3]),
    (s.Flag("WORK"), [2]),  # keywords match in any case
    (s.Flag("work", False), [1, 3]),
    (s.Flag("wor"), []),  # a keyword, not a substring of one
    (s.UIDRanges([(1, 1), (3, 9)]), [1, 3]),
    (s.UIDRanges([]), []),
    (s.UIDRanges([(1, 1)] + [(n, n) for n in range(3, 30, 2)]), [1, 3]),  # many ranges as one parameter
    (s.Or(s.Not(s.Text("body", "banana")), s.Flag("\\flagged")), [1, 2]),  # text inside or and not
    (s.Size(True, 400), [2]),
    (s.Not(s.Size(True, 400)), [1, 3]),
    (s.Or(s.Flag("\\flagged"), s.UIDRanges([(3, 3)])), [2, 3]),
    # RFC 3501 6.4.4: the Date header's own day, whatever its time zone.
    (s.Sent("on", date(2007, 3, 25)), [1]),
    (s.Sent("before", date(2007, 3, 27)), [1, 2]),
    (s.Sent("since", date(2007, 3, 27)), [3]),
    (s.Text("body", "BANANA"), [3]),
    (s.Text("header", "number 2", name="subject"), [2]),
    (s.Text("header", "", name="Date"), [1, 2, 3]),
    (s.And([s.Text("text", "number"), s.Flag("\\seen")]), [1, 2]),
    (s.AddressField("from", "a@example"), [1, 2, 3]),
    (s.AddressField("to", ""), []),
])
def test_criteria_select(inbox, criteria, uids):
    account, mailbox_id = inbox
    assert account.search(mailbox_id, criteria) == uids


def test_text_criteria_come_last_so_files_are_read_only_for_the_rest():
    condition, params = sqlsearch.where(s.And([s.Text("body", "x"), s.Flag("\\seen"), s.Size(False, 10)]))
    assert condition.index("flags") < condition.index("size") < condition.index("mox_text_match")
    assert params[-3:] == ["body", "", "x"]


def test_empty_and_is_every_message_and_unknown_criteria_are_refused():
    assert sqlsearch.where(s.And()) == ("1", [])
    with pytest.raises(TypeError):
        sqlsearch.where(object())

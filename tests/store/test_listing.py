"""Pages of summaries (Account.summary_page) with word and other criteria,
on SQLite (FTS5) and on PostgreSQL (its table of normalized words): the
same messages for the same search text on both."""

import asyncio

import pytest

from moxpy.store import MessageFilter, SearchError

from ..storehelp import open_test_store

MESSAGES = [
    # (From, Subject, body, flags, received)
    ("Bob <bob@example.com>", "Invoices for March", "Please pay the invoice_total today.", ["\\Seen"], 1000.0),
    ("Élan Vital <elan@example.org>", "Café meeting", "We meet on Friday at the café.", [], 2000.0),
    ("carol@example.net", "Re: meeting notes", "notes: friday afternoon, bob will join", ["Work"], 3000.0),
]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def account(request, tmp_path_factory):
    storage = "" if request.param == "sqlite" else request.getfixturevalue("postgresql").new_database()
    store = open_test_store(tmp_path_factory.mktemp("listing"), storage)
    account = store.account("test")

    async def fill():
        for sender, subject, body, flags, received in MESSAGES:
            data = (f"From: {sender}\r\nTo: dave@example.com\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\n"
                    f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n").encode()
            await account.deliver(data, flags=flags, received=received)

    asyncio.run(fill())
    yield account
    store.close()


def subjects(account, **criteria) -> list[str]:
    return [s.subject for s in account.summary_page(MessageFilter(**criteria), 10).summaries]


@pytest.mark.parametrize("criteria, found", [
    ({}, ["Re: meeting notes", "Café meeting", "Invoices for March"]),
    ({"subject": "invoice"}, ["Invoices for March"]),  # a word finds words starting with it
    ({"subject": '"invoice"'}, []),  # a quoted phrase only whole words
    ({"text": "MEETING"}, ["Re: meeting notes", "Café meeting"]),
    ({"text": "cafe"}, ["Café meeting"]),  # accents do not count
    ({"from_": "elan"}, ["Café meeting"]),
    ({"from_": "bob@example.com"}, ["Invoices for March"]),  # an address is its words in order
    ({"from_": "bob"}, ["Invoices for March"]),  # the From addresses only, not the body
    ({"body": "bob"}, ["Re: meeting notes"]),
    ({"body": '"friday afternoon"'}, ["Re: meeting notes"]),
    ({"body": '"afternoon friday"'}, []),
    ({"body": "total"}, ["Invoices for March"]),  # the underscore splits words
    ({"text": "friday notes"}, ["Re: meeting notes"]),  # every word, in any column
    ({"to": "dave"}, ["Re: meeting notes", "Café meeting", "Invoices for March"]),
    ({"text": "meeting", "flags": ["work"]}, ["Re: meeting notes"]),
    ({"not_flags": ["\\seen"], "before": 3000.0}, ["Café meeting"]),
    ({"text": "100%"}, []),  # what looks like SQL is text
    ({"text": "a'; drop table messages; --"}, []),
])
def test_word_criteria_select_the_same_on_both_engines(account, criteria, found):
    assert subjects(account, **criteria) == found


def test_paging_after_a_position_and_refused_text(account):
    first = account.summary_page(MessageFilter(), 1)
    assert (first.total, first.more, [s.subject for s in first.summaries]) == (3, True, ["Re: meeting notes"])
    last = first.summaries[-1]
    rest = account.summary_page(MessageFilter(), 5, after=(last.received, last.id))
    assert (rest.total, rest.offset, rest.more) == (3, 1, False)
    assert [s.subject for s in rest.summaries] == ["Café meeting", "Invoices for March"]
    with pytest.raises(SearchError, match="no words"):
        account.summary_page(MessageFilter(text="* -"), 5)

"""The IMAP command argument parsers fed arbitrary bytes: each either
parses or raises its own error type (answered BAD or NO), never another
exception that would reach the session as an internal error. And what the
writers make, the readers read back."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from moxpy.imapserver import arguments, binary, fetch, listext, names, search, syntax
from moxpy.imapserver.syntax import CommandSyntaxError
from moxpy.imapserver.view import MailboxView
from moxpy.store import open_store

# Bytes that matter to the grammar, mixed with arbitrary ones, so examples reach past the first check.
SPECIAL = [b" ", b"(", b")", b"[", b"]", b"{", b"}", b"+", b"~", b'"', b"\\", b"*", b"%", b":", b",", b"<", b">",
           b".", b"-", b"0", b"1", b"9", b"4294967296", b"{3}", b"{0}", b"{5+}", b"NIL", b"ALL", b"OR", b"NOT",
           b"UID", b"BODY", b"BODY.PEEK", b"HEADER", b"HEADER.FIELDS", b"TEXT", b"MIME", b"FLAGS", b"CHARSET",
           b"UTF-8", b"SINCE", b"1-Feb-1994", b"LARGER", b"KEYWORD", b"\\Seen", b"&", b"&-", b"&2D0-", b"\x00",
           b"\xff", b"\r", b"\n"]
wire = st.lists(st.one_of(st.sampled_from(SPECIAL), st.binary(max_size=8)), max_size=24).map(b"".join)


def parses_or_syntax_error(reader, line: bytes, data: bytes = b"x", rest: bytes = b"") -> None:
    """Run an argument reader, and the resumption of any literal it asks for, to the end."""
    try:
        result = reader(line)
        for _ in range(4):
            if not isinstance(result, arguments.Literal):
                break
            assert result.size >= 0
            result = result.resume(data, rest)
    except CommandSyntaxError:
        return


READERS = [arguments.astring, arguments.final_astring, arguments.atom, arguments.paren_list,
           arguments.optional_paren_list, arguments.optional_date_time, arguments.append_messages,
           arguments.sequence_set, arguments.fetch_items, arguments.search_keys, arguments.flag_list,
           arguments.rest_of_line, arguments.list_arguments]


@pytest.mark.parametrize("reader", READERS, ids=lambda r: r.__name__)
@given(line=wire, data=st.binary(max_size=8), rest=wire)
def test_argument_readers_raise_only_syntax_errors(reader, line, data, rest):
    parses_or_syntax_error(reader, line, data, rest)


@given(line=wire)
def test_tokenize_raises_only_syntax_errors(line):
    try:
        tokens, pending = syntax.tokenize(line)
    except CommandSyntaxError:
        return
    assert isinstance(tokens, list)
    if pending is not None:
        size, _nonsync, stack = pending
        assert size >= 0 and stack


@given(text=wire)
def test_sequence_set_raises_only_syntax_errors(text):
    try:
        ranges = syntax.parse_sequence_set(text)
    except CommandSyntaxError:
        return
    for low, high in ranges:
        for n in (low, high):
            assert n is None or 1 <= n <= syntax.MAX_NZ_NUMBER


@given(uids=st.lists(st.integers(1, syntax.MAX_NZ_NUMBER), min_size=1, max_size=30, unique=True).map(sorted))
def test_uid_set_round_trips(uids):
    ranges = syntax.parse_sequence_set(syntax.format_uid_set(uids))
    assert [n for low, high in ranges for n in range(low, high + 1)] == uids


@given(text=st.one_of(wire, st.text(max_size=30).map(str.encode)))
def test_dates_raise_only_syntax_errors(text):
    for parse in (syntax.parse_date, syntax.parse_date_time):
        try:
            parse(text)
        except CommandSyntaxError:
            pass


@given(text=wire)
def test_fetch_items_raise_only_fetch_errors(text):
    try:
        fetch.parse_items(text)
    except fetch.FetchError:
        pass


@given(text=wire)
def test_binary_items_raise_only_fetch_or_syntax_errors(text):
    try:
        binary.parse_items(b"(BINARY.PEEK[1] " + text + b")")
    except (fetch.FetchError, CommandSyntaxError):
        pass


@given(text=wire)
def test_list_options_raise_only_syntax_errors(text):
    try:
        tokens, pending = syntax.tokenize(text)
        if pending is None:
            listext.parse(tokens, lambda items: [bytes(i) for i in items if not isinstance(i, list)])
    except CommandSyntaxError:
        pass


@given(raw=wire)
def test_mailbox_name_decode_raises_only_its_error(raw):
    try:
        name = names.decode(raw)
    except names.MailboxNameError:
        return
    name.encode("utf-8")  # no lone surrogates get through


@given(value=st.binary(max_size=40))
def test_strings_written_read_back(value):
    # A string argument written as quoted string or literal tokenizes back to the same octets.
    written = syntax.string(value)
    if written.startswith(b"{"):
        header, _, body = written.partition(b"\r\n")
        tokens, pending = syntax.tokenize(header)
        assert pending is not None and pending[0] == len(body) == len(value)
        assert body == value
    else:
        tokens, pending = syntax.tokenize(written)
        assert pending is None and tokens == [value]


@pytest.fixture(scope="module")
def view(tmp_path_factory):
    """A view of a real inbox with three messages, for the sequence numbers in search keys."""
    loop = asyncio.new_event_loop()
    store = open_store(str(tmp_path_factory.mktemp("fuzzview")))
    account = store.account("test")
    for n in range(3):
        loop.run_until_complete(account.deliver(b"Subject: %d\r\n\r\nbody\r\n" % n))
    yield MailboxView(account, account.mailbox("Inbox").id, True, None)
    store.close()
    loop.close()


@given(line=wire)
def test_search_keys_raise_only_their_errors(view, line):
    try:
        tokens, pending = syntax.tokenize(line)
        search.parse(tokens, view)
    except (CommandSyntaxError, search.BadCharset):
        pass

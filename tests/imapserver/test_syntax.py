"""IMAP wire syntax (RFC 3501 9) as pure functions: strings in and out,
token lists with literals, sequence sets, dates, response text."""

import time
from datetime import datetime, timezone

import pytest

from moxpy.imapserver import syntax
from moxpy.imapserver.syntax import String, CommandSyntaxError


def utc(*fields: int) -> float:
    return datetime(*fields, tzinfo=timezone.utc).timestamp()


def test_strings_are_written_as_atom_quoted_or_literal():
    assert syntax.astring("INBOX") == b"INBOX"
    assert syntax.astring("two words") == b'"two words"'
    assert syntax.astring("NIL") == b'"NIL"'  # an atom NIL would read as nil
    assert syntax.astring("") == b'""'
    assert syntax.string('say "hi" \\ there') == b'"say \\"hi\\" \\\\ there"'
    assert syntax.string("caf\u00e9") == b"{5}\r\ncaf\xc3\xa9"  # 8-bit: a literal
    assert syntax.string("a\r\nb") == b"{4}\r\na\r\nb"
    assert syntax.string("x" * 1001) == b"{1001}\r\n" + b"x" * 1001
    assert syntax.nstring(None) == syntax.nstring("") == b"NIL"


def test_quoted_string_read_with_escapes():
    assert syntax.read_quoted(b'"a \\"b\\" \\\\c" rest') == (b'a "b" \\c', b"rest")
    assert syntax.read_quoted(b'"x")') == (b"x", b")")
    assert syntax.read_quoted(b'""') == (b"", b"")
    for bad, message in ((b'"open', "unterminated"), (b'"a\\b"', "bad escape"), (b'"a"b', "missing space")):
        with pytest.raises(CommandSyntaxError, match=message):
            syntax.read_quoted(bad)


def test_tokens_with_lists_strings_and_bracketed_atoms():
    tokens, pending = syntax.tokenize(b'OR (FROM "a b" NOT SEEN) BODY[HEADER.FIELDS (A B)]<0.5> x')
    assert pending is None
    assert tokens == [b"OR", [b"FROM", b"a b", b"NOT", b"SEEN"], b"BODY[HEADER.FIELDS (A B)]<0.5>", b"x"]
    assert isinstance(tokens[1][1], String) and not isinstance(tokens[0], String)
    with pytest.raises(CommandSyntaxError, match="unbalanced"):
        syntax.tokenize(b"(A")
    with pytest.raises(CommandSyntaxError, match="unbalanced"):
        syntax.tokenize(b"A)")


def test_tokens_continue_after_a_literal():
    # The caller reads the literal, puts it in the innermost open list and goes on with the rest.
    tokens, pending = syntax.tokenize(b"(SUBJECT {5+}")
    size, nonsync, stack = pending
    assert (size, nonsync) == (5, True)
    stack[-1].append(String(b"hello"))
    tokens, pending = syntax.tokenize(b" FROM bob)", stack=stack)
    assert pending is None and tokens == [[b"SUBJECT", b"hello", b"FROM", b"bob"]]


def test_sequence_sets():
    assert syntax.parse_sequence_set(b"1:3,5,7:*,*,4:2") == [(1, 3), (5, 5), (7, None), (None, None), (4, 2)]
    for bad in (b"", b"0", b"1:0", b"x", b"1,,2", b"-1", b"1:x", b"+1"):
        with pytest.raises(CommandSyntaxError):
            syntax.parse_sequence_set(bad)


def test_uid_sets_compacted_in_given_order():
    # RFC 4315 COPYUID: source and destination UIDs pair up by position, so the order is kept.
    assert syntax.format_uid_set([1, 2, 3, 5, 7, 8]) == b"1:3,5,7:8"
    assert syntax.format_uid_set([4, 1, 2]) == b"4,1:2"
    assert syntax.format_uid_set([9]) == b"9"


def test_dates():
    assert syntax.parse_date(b"1-Feb-1994").isoformat() == "1994-02-01"
    assert syntax.parse_date(b"01-feb-1994").isoformat() == "1994-02-01"
    for bad in (b"1994-02-01", b"31-Feb-1994", b"1-Foo-1994"):
        with pytest.raises(CommandSyntaxError):
            syntax.parse_date(bad)
    assert syntax.parse_date_time(b"17-Jul-1996 02:44:25 -0700") == utc(1996, 7, 17, 9, 44, 25)
    assert syntax.parse_date_time(b" 7-Jul-1996 09:44:25 +0000") == utc(1996, 7, 7, 9, 44, 25)
    for bad in (b"17-Jul-1996 02:44:25", b"31-Jun-1996 02:44:25 +0000", b"17-Jul-1996 25:44:25 +0000"):
        with pytest.raises(CommandSyntaxError):
            syntax.parse_date_time(bad)


def test_internaldate_in_local_time(monkeypatch):
    monkeypatch.setenv("TZ", "Europe/Amsterdam")
    time.tzset()
    try:
        assert syntax.format_date_time(utc(1996, 7, 17, 9, 44, 25)) == b'"17-Jul-1996 11:44:25 +0200"'
        assert syntax.format_date_time(utc(1996, 1, 7, 9, 44, 25)) == b'"07-Jan-1996 10:44:25 +0100"'
    finally:
        monkeypatch.undo()
        time.tzset()


def test_response_text_is_printable_ascii():
    assert syntax.plain_text("unknown flag \u00e4\r\n") == b"unknown flag ???"
    assert len(syntax.plain_text("x" * 500)) == 200

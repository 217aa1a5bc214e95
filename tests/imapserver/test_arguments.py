"""Reading command arguments: each reader returns (value, rest of line),
or a Literal for the session to read before it goes on."""

import pytest

from moxpy.imapserver import arguments
from moxpy.imapserver.arguments import Literal
from moxpy.imapserver.fetch import Section
from moxpy.imapserver.syntax import CommandSyntaxError


def test_astring_atom_quoted_or_literal():
    assert arguments.astring(b"INBOX rest") == (b"INBOX", b"rest")
    assert arguments.astring(b'  "My \\"box\\"" rest') == (b'My "box"', b"rest")
    literal = arguments.astring(b"{5}")
    assert isinstance(literal, Literal) and (literal.size, literal.nonsync, literal.file) == (5, False, False)
    assert literal.resume(b"INBOX", b" (MESSAGES)") == (b"INBOX", b" (MESSAGES)")
    assert arguments.astring(b"{5+}").nonsync
    with pytest.raises(CommandSyntaxError, match="missing argument"):
        arguments.astring(b"")
    with pytest.raises(CommandSyntaxError, match="malformed literal"):
        arguments.astring(b"{5")
    with pytest.raises(CommandSyntaxError, match="too long"):
        arguments.astring(b"{4097}")


def test_empty_literal_as_last_argument_needs_no_continuation():
    assert arguments.final_astring(b"{0}") == (b"", b"")
    assert isinstance(arguments.astring(b"{0}"), Literal)


def test_atoms():
    assert arguments.atom(b"+FLAGS.SILENT (\\Seen)") == (b"+FLAGS.SILENT", b"(\\Seen)")
    assert arguments.atom(b"PLAIN") == (b"PLAIN", b"")
    for bad in (b"+FLAGS(x)", b'"quoted"', b"(list)"):
        with pytest.raises(CommandSyntaxError, match="Malformed ATOM"):
            arguments.atom(bad)
    with pytest.raises(CommandSyntaxError, match="Missing argument"):
        arguments.atom(b"")


def test_parenthesised_lists():
    assert arguments.paren_list(b"(MESSAGES UNSEEN) rest") == ([b"MESSAGES", b"UNSEEN"], b"rest")
    assert arguments.paren_list(b"()") == ([], b"")
    assert arguments.optional_paren_list(b"{5}") == (None, b"{5}")
    assert arguments.optional_paren_list(b"(\\Seen) {5}") == ([b"\\Seen"], b"{5}")
    for bad, message in ((b"MESSAGES", "Missing parenthesis"), (b"(MESSAGES", "Mismatched parenthesis"),
                         (b'(MESSAGES "x)', "unbalanced"), (b"", "Missing argument")):
        with pytest.raises(CommandSyntaxError, match=message):
            arguments.paren_list(bad)


def test_store_flags_with_or_without_parentheses():
    assert arguments.flag_list(b"(\\Seen $Label)") == (["\\Seen", "$Label"], b"")
    assert arguments.flag_list(b"\\Seen $Label") == (["\\Seen", "$Label"], b"")
    assert arguments.flag_list(b"()") == ([], b"")
    assert arguments.flag_list(b"(\\Seen )") == (["\\Seen"], b"")
    for bad, message in ((b"(a  b)", "Malformed flag"), (b"(x\\y)", "Malformed flag"), (b"(\xc3\xa4)", "Malformed flag"),
                         (b"(\\Seen", "Mismatched parenthesis"), (b"", "missing flags")):
        with pytest.raises(CommandSyntaxError, match=message):
            arguments.flag_list(bad)


def test_append_date_and_message():
    assert arguments.optional_date_time(b'"17-Jul-1996 02:44:25 -0700" {3}') == (b"17-Jul-1996 02:44:25 -0700", b"{3}")
    assert arguments.optional_date_time(b"{3}") == (None, b"{3}")
    with pytest.raises(CommandSyntaxError, match="Malformed date-time"):
        arguments.optional_date_time(b'"17-Jul-1996 {3}')
    message = arguments.append_messages(b"{100000000+}")
    assert (message.size, message.nonsync, message.file) == (100000000, True, True)  # no string limit
    with pytest.raises(CommandSyntaxError, match="literal expected"):
        arguments.append_messages(b"x")


def test_append_several_messages():
    # RFC 3502: after a message's literal, another message with its own flags and date, or the end.
    first = arguments.append_messages(b"(\\Seen) {3}")
    second = first.resume("file1", b' "17-Jul-1996 02:44:25 -0700" ~{4+}')
    assert (second.size, second.nonsync) == (4, True)
    messages, rest = second.resume("file2", b"")
    assert rest == b""
    assert [(m.flags, m.date, m.file, m.binary) for m in messages] == [
        ([b"\\Seen"], None, "file1", False), (None, b"17-Jul-1996 02:44:25 -0700", "file2", True)]
    with pytest.raises(CommandSyntaxError, match="another message"):
        arguments.append_messages(b"{3}").resume("file", b"x")


def test_sequence_set_then_rest():
    assert arguments.sequence_set(b"1:*,3 (FLAGS)") == ([(1, None), (3, 3)], b"(FLAGS)")
    with pytest.raises(CommandSyntaxError, match="empty sequence set"):
        arguments.sequence_set(b"")


def test_fetch_items_and_macros():
    assert arguments.fetch_items(b"FAST") == (["FLAGS", "INTERNALDATE", "RFC822.SIZE"], b"")
    (section,), rest = arguments.fetch_items(b"BODY.PEEK[1.2.HEADER.FIELDS (Subject To)]<0.100>")
    assert section == Section(peek=True, path=[1, 2], spec="HEADER.FIELDS", fields=[b"SUBJECT", b"TO"],
                              partial=(0, 100))
    for bad in (b"BOGUS", b"(FLAGS", b"BODY[1.X]", b"BODY.PEEK[MIME]", b"BODY<0.1>"):
        with pytest.raises(CommandSyntaxError):
            arguments.fetch_items(bad)


def test_search_keys_with_literals():
    first = arguments.search_keys(b"OR SUBJECT {5}")
    assert isinstance(first, Literal) and (first.size, first.nonsync) == (5, False)
    second = first.resume(b"HELLO", b" FROM {3+}")
    assert isinstance(second, Literal) and second.nonsync
    assert second.resume(b"bob", b"") == ([b"OR", b"SUBJECT", b"HELLO", b"FROM", b"bob"], b"")
    assert arguments.search_keys(b"") == ([], b"")
    with pytest.raises(CommandSyntaxError, match="too long"):
        arguments.search_keys(b"SUBJECT {99999}")


def test_rest_of_line_is_taken_whole():
    assert arguments.rest_of_line(b'("name" "x")') == (b'("name" "x")', b"")

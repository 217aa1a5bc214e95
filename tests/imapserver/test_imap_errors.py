"""Mailbox names that are not valid modified UTF-7 (RFC 3501 5.1.3), and
error answers in general: NO for a name no mailbox can have (an empty
LIST), and every NO and BAD in plain words, never a Python repr or an
exception's text."""

import re

import pytest

from ..imapclient import Raw

# "&" alone, an unterminated shift, a needless shift for plain ASCII, a stray "-" in base64,
# a lone UTF-16 surrogate, and bytes that are not UTF-8.
BAD_NAMES = [b'"bad&-utf7&AAA"', b'"a&b"', b'"&Jjo"', b'"&AGE-"', b'"&A-"', b'"&2D0-"', b'{2+}\r\n\xff\xfe']

PLAIN = re.compile(rb"^[\x20-\x7e]*$")


@pytest.fixture
def raw(server):
    client = Raw(server.ports["IMAP"])
    client.login()
    yield client
    client.close()


def assert_plain(tagged: bytes) -> None:
    text = tagged.split(b" ", 2)[2]
    assert PLAIN.match(text), tagged
    for sign in (b"b'", b'b"', b"\\x", b"Traceback", b"Error", b"Exception", b"Server error"):
        assert sign not in text, tagged


@pytest.mark.parametrize("name", BAD_NAMES)
def test_invalid_mailbox_names_answered_no(raw, name):
    raw.command(b"CREATE NamesTarget")
    message = b"Subject: x\r\n\r\nx\r\n"
    commands = [b"SELECT " + name, b"EXAMINE " + name, b"STATUS " + name + b" (MESSAGES)", b"CREATE " + name,
                b"DELETE " + name, b"RENAME " + name + b" NamesOther", b"RENAME NamesTarget " + name,
                b"SUBSCRIBE " + name, b"UNSUBSCRIBE " + name,
                b"APPEND " + name + b" {%d+}\r\n" % len(message) + message]
    for command in commands:
        untagged, tagged = raw.command(command)
        assert tagged.split()[1] == b"NO", (command, tagged)
        assert b"[CANNOT]" in tagged and b"mailbox name" in tagged, tagged
        assert_plain(tagged)
    _, tagged = raw.command(b"SELECT INBOX")
    assert b" OK " in tagged
    for command in (b"COPY 1:* " + name, b"MOVE 1:* " + name, b"UID COPY 1:* " + name):
        _, tagged = raw.command(command)
        assert tagged.split()[1] == b"NO", (command, tagged)
        assert_plain(tagged)
    # LIST and LSUB: no mailbox has such a name, so none is listed.
    for command in (b'LIST "" ' + name, b'LSUB "" ' + name, b"LIST " + name + b' "*"'):
        untagged, tagged = raw.command(command)
        assert b" OK " in tagged and untagged == [], (command, untagged, tagged)


def test_valid_names_still_work(raw):
    _, tagged = raw.command(b"CREATE Entw&APw-rfe/Alt&-Neu")
    assert b" OK " in tagged
    untagged, _ = raw.command(b'LIST "" "Entw&APw-rfe/*"')
    assert untagged == [b'* LIST (\\HasNoChildren) "/" Entw&APw-rfe/Alt&-Neu']
    _, tagged = raw.command(b"SELECT Entw&APw-rfe/Alt&-Neu")
    assert b" OK " in tagged
    # A name as a literal, followed by more arguments.
    untagged, tagged = raw.command(b"STATUS {5+}\r\nINBOX (MESSAGES)")
    assert b" OK " in tagged and untagged[0].startswith(b"* STATUS INBOX (MESSAGES "), (untagged, tagged)


def test_control_character_in_name_answered_no(raw):
    untagged, tagged = raw.command(b'CREATE "a&AAE-b"')
    assert tagged.split()[1] == b"NO" and b"control character" in tagged, tagged
    assert_plain(tagged)
    untagged, tagged = raw.command(b"CREATE /leading")
    assert tagged.split()[1] == b"NO", tagged
    assert_plain(tagged)


@pytest.mark.parametrize("command", [
    b"NOOP extra", b"FETCH x FLAGS", b"FETCH 0 FLAGS", b"FETCH 1 (BODY[1.X])", b"FETCH 1 BOGUS",
    b"SEARCH SENTON 99-Foo-2000", b"SEARCH BOGUSKEY", b"STORE 1 +FLAGS (\\Bogus)", b"STORE 1 +FLAGS (\xc3\xa4)",
    b'STATUS INBOX (MESSAGES "x)', b"STATUS INBOX (BOGUS)", b"STATUS INBOX MESSAGES", b"APPEND INBOX (\\Bogus) {1+}\r\nx",
    b'APPEND INBOX "31-Foo-2020 10:00:00 +0000" {1+}\r\nx', b"UID FROB 1", b"BOGUS", b"SELECT",
    b"COPY 1:x INBOX", b"LIST", b"FETCH 1:* (FLAGS", b"UID SEARCH UID 1:x",
])
def test_errors_in_plain_words(raw, command):
    message = b"Subject: for errors\r\n\r\nx\r\n"
    raw.command(b"APPEND INBOX {%d+}\r\n" % len(message) + message)
    raw.command(b"SELECT INBOX")
    _, tagged = raw.command(command)
    assert tagged.split()[1] in (b"BAD", b"NO"), (command, tagged)
    assert_plain(tagged)
    _, tagged = raw.command(b"NOOP")
    assert b" OK " in tagged


@pytest.mark.parametrize("command", [
    b"SELECT", b"LIST", b"STATUS", b"SEARCH", b"UID SEARCH", b"FETCH", b"UID FETCH", b"STORE", b"STORE 1 +FLAGS",
    b"MOVE", b"COPY",
])
def test_missing_arguments_named(raw, command):
    _, tagged = raw.command(b"SELECT INBOX")
    assert b" OK " in tagged
    _, tagged = raw.command(command)
    assert tagged.split()[1] == b"BAD", (command, tagged)
    assert b"internal error" not in tagged and re.search(rb"missing|empty", tagged, re.I), (command, tagged)
    assert_plain(tagged)

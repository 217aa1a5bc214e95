"""APPEND of several messages in one command (MULTIAPPEND, RFC 3502):
stored all or none, APPENDUID with the UID set; APPENDLIMIT (RFC 7889) on
each message; and literals (RFC 7888): LITERAL+ is announced, so
non-synchronizing literals of any size are taken for messages, while a
string literal over 4096 octets gets BAD and its octets are dropped."""

import re

import pytest

from ..imapclient import Raw

# RFC 3502 3, the example's two messages (shortened).
FIRST = (b"Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\n"
         b"From: Fred Foobar <foobar@Blurdybloop.example.COM>\r\n"
         b"Subject: afternoon meeting\r\n"
         b"To: mooch@owatagu.example.net\r\n"
         b"Message-Id: <B27397-0100000@Blurdybloop.example.COM>\r\n"
         b"MIME-Version: 1.0\r\n"
         b"Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n"
         b"\r\n"
         b"Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n")
SECOND = (b"Date: Mon, 7 Feb 1994 22:43:04 -0800 (PST)\r\n"
          b"From: Joe Mooch <mooch@OWaTaGu.example.net>\r\n"
          b"Subject: Re: afternoon meeting\r\n"
          b"To: foobar@blurdybloop.example.com\r\n"
          b"Message-Id: <a0434793874930@OWaTaGu.example.net>\r\n"
          b"MIME-Version: 1.0\r\n"
          b"Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n"
          b"\r\n"
          b"3:30 is fine with me.\r\n")


@pytest.fixture(scope="module")
def raw(server):
    client = Raw(server.ports["IMAP"])
    client.login()
    yield client
    client.close()


def count(raw: Raw, mailbox: bytes) -> int:
    untagged, tagged = raw.command(b"STATUS " + mailbox + b" (MESSAGES)")
    assert b" OK " in tagged, tagged
    return int(re.search(rb"MESSAGES (\d+)", untagged[0]).group(1))


def uidvalidity(raw: Raw, mailbox: bytes) -> int:
    untagged, _ = raw.command(b"STATUS " + mailbox + b" (UIDVALIDITY UIDNEXT)")
    return int(re.search(rb"UIDVALIDITY (\d+)", untagged[0]).group(1))


def test_capabilities(raw):
    untagged, _ = raw.command(b"CAPABILITY")
    caps = untagged[0].split()
    assert b"MULTIAPPEND" in caps and b"LITERAL+" in caps
    # LITERAL+ (no size limit on non-synchronizing literals) is the stronger of the two: not both.
    assert b"LITERAL-" not in caps
    assert any(c.startswith(b"APPENDLIMIT=") for c in caps)


def test_rfc3502_example_with_synchronizing_literals(raw):
    raw.command(b"CREATE saved-messages")
    tag = raw.tag()
    raw.send(tag + b" APPEND saved-messages (\\Seen) {%d}\r\n" % len(FIRST))
    assert raw.line().startswith(b"+")
    raw.send(FIRST + b' (\\Seen) "7-Feb-1994 22:43:04 -0800" {%d}\r\n' % len(SECOND))
    assert raw.line().startswith(b"+")
    raw.send(SECOND + b"\r\n")
    untagged, tagged = raw.until(tag)
    validity = uidvalidity(raw, b"saved-messages")
    assert tagged == tag + b" OK [APPENDUID %d 1:2] APPEND completed" % validity, tagged
    raw.command(b"EXAMINE saved-messages")
    untagged, _ = raw.command(b"FETCH 1:2 (FLAGS INTERNALDATE BODY.PEEK[])")
    assert untagged[0].startswith(b"* 1 FETCH (FLAGS (\\Seen \\Recent) ")
    assert FIRST in untagged[0] and SECOND in untagged[1]
    assert b'INTERNALDATE "' in untagged[1] and b"1994" in untagged[1]
    raw.command(b"UNSELECT")


def test_nonsync_and_binary_literals_of_any_size(raw):
    raw.command(b"CREATE big")
    large = b"Subject: large\r\n\r\n" + b"y" * 10000 + b"\r\n"  # over LITERAL-'s 4096
    binary = b"Subject: nul\r\nContent-Transfer-Encoding: binary\r\n\r\na\x00b\r\n"
    _, tagged = raw.command(b"APPEND big {%d+}\r\n%s ~{%d+}\r\n%s" % (len(large), large, len(binary), binary))
    assert b" OK [APPENDUID " in tagged and b" 1:2] " in tagged, tagged
    raw.command(b"EXAMINE big")
    untagged, _ = raw.command(b"FETCH 2 (BODY.PEEK[])")
    assert binary in untagged[0]
    raw.command(b"UNSELECT")


def test_bad_flag_in_a_later_message_stores_none(raw):
    raw.command(b"CREATE atomic")
    _, tagged = raw.command(b"APPEND atomic {%d+}\r\n%s (\\Bogus) {%d+}\r\n%s"
                            % (len(FIRST), FIRST, len(SECOND), SECOND))
    assert tagged.split()[1] == b"BAD", tagged
    assert count(raw, b"atomic") == 0


def test_too_large_later_message_refused_before_its_continuation(raw):
    untagged, _ = raw.command(b"CAPABILITY")
    limit = int(re.search(rb"APPENDLIMIT=(\d+)", untagged[0]).group(1))
    tag = raw.tag()
    raw.send(tag + b" APPEND atomic {%d}\r\n" % len(FIRST))
    assert raw.line().startswith(b"+")
    raw.send(FIRST + b" {%d}\r\n" % (limit + 1))
    line = raw.line()
    assert line.startswith(tag + b" NO [TOOBIG] "), line
    assert count(raw, b"atomic") == 0


def test_empty_message_cancels(raw):
    # RFC 3502: a zero-length message literal cancels the APPEND, nothing is stored.
    _, tagged = raw.command(b"APPEND atomic {%d+}\r\n%s {0+}\r\n" % (len(FIRST), FIRST))
    assert tagged.split()[1] == b"NO", tagged
    assert count(raw, b"atomic") == 0


def test_missing_mailbox_trycreate(raw):
    _, tagged = raw.command(b"APPEND nosuch {%d+}\r\n%s {%d+}\r\n%s" % (len(FIRST), FIRST, len(SECOND), SECOND))
    assert b" NO [TRYCREATE] " in tagged, tagged


def test_bad_syntax_between_messages(raw):
    _, tagged = raw.command(b"APPEND atomic {%d+}\r\n%s garbage" % (len(FIRST), FIRST))
    assert tagged.split()[1] == b"BAD", tagged
    assert count(raw, b"atomic") == 0


def test_string_literal_over_4096_is_bad_and_dropped(raw):
    name = b"n" * 5000
    tag = raw.tag()
    raw.send(tag + b" CREATE {%d+}\r\n%s\r\n" % (len(name), name))
    untagged, tagged = raw.until(tag)
    assert tagged.startswith(tag + b" BAD ") and b"4096" in tagged, tagged
    assert untagged == []  # the literal's octets were not taken as commands
    _, tagged = raw.command(b"NOOP")
    assert b" OK " in tagged

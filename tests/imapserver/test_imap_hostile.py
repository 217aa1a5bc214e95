"""Hostile input over IMAP: searches nested or long enough to exhaust the
parser or the SQL query, numbers beyond the grammar's range, and mailbox
names that look like relative paths. Each gets a plain BAD or NO, and the
server goes on answering other sessions."""

import re

import pytest

from ..heartbeat import Heartbeat
from ..imapclient import Raw

pytestmark = pytest.mark.timing  # dev.py test runs these alone

PLAIN = re.compile(rb"^[\x20-\x7e]*$")


def session(server) -> Raw:
    client = Raw(server.ports["IMAP"], timeout=30)
    client.login()
    return client


@pytest.fixture
def raw(server):
    client = session(server)
    yield client
    client.close()


def assert_plain(tagged: bytes) -> None:
    text = tagged.split(b" ", 2)[2]
    assert PLAIN.match(text), tagged
    for sign in (b"SERVERBUG", b"internal error", b"Traceback", b"Error", b"\\x"):
        assert sign not in text, tagged


def assert_others_answer(server) -> None:
    other = session(server)
    try:
        _, tagged = other.command(b"NOOP")
        assert b" OK " in tagged, tagged
    finally:
        other.close()


def selected(raw) -> None:
    message = b"Subject: hostile\r\n\r\nx\r\n"
    raw.command(b"APPEND INBOX {%d+}\r\n" % len(message) + message)
    _, tagged = raw.command(b"SELECT INBOX")
    assert b" OK " in tagged, tagged


@pytest.mark.parametrize("keys, reason", [
    (b"(" * 10000 + b"ALL" + b")" * 10000, b"nested"),
    (b"NOT " * 100000 + b"ALL", b"nested"),
    (b"OR " * 10000 + b"ALL " * 10001, b"nested"),
    (b"(" * 21 + b"ALL" + b")" * 21, b"nested"),
    (b" ".join([b"ALL"] * 10000), b"too many"),
    (b" ".join([b"SEEN"] * 1001), b"too many"),
    (b"LARGER 99999999999999999999", b"too large"),
    (b"SMALLER 9223372036854775808", b"too large"),
    (b"YOUNGER 4294967296", b"too large"),
    (b"LARGER " + b"9" * 5000, b"too large"),
    (b"99999999999999999999", b"sequence set"),
    (b"UID 1:4294967296", b"sequence set"),
])
def test_hostile_search_answered_bad(server, raw, keys, reason):
    selected(raw)
    with Heartbeat(server) as beat:
        for command in (b"SEARCH ", b"UID SEARCH "):
            _, tagged = raw.command(command + keys)
            assert tagged.split()[1] == b"BAD", tagged[:200]
            assert reason in tagged, tagged[:200]
            assert_plain(tagged)
    beat.check()
    _, tagged = raw.command(b"NOOP")
    assert b" OK " in tagged
    assert_others_answer(server)


@pytest.mark.parametrize("keys", [
    b"(" * 19 + b"ALL" + b")" * 19,
    b"NOT " * 19 + b"ALL",
    b"OR " * 19 + b"ALL " * 20,
    b"NOT OR SEEN (" * 6 + b"ALL" + b")" * 6,
    b"(" * 19 + b" ".join([b"SEEN"] * 900) + b")" * 19,
    b" ".join([b"UNDELETED"] * 1000),
    b"LARGER 9223372036854775807",
    b"UID 1:4294967295",
    b"UID " + b",".join(b"%d" % i for i in range(1, 40000, 2)),
    b" ".join(b"UID %d" % i for i in range(1, 500)),
])
def test_search_at_the_limits_answered(raw, keys):
    selected(raw)
    untagged, tagged = raw.command(b"SEARCH " + keys)
    assert b" OK " in tagged, tagged[:200]
    assert untagged[0].startswith(b"* SEARCH"), untagged


def test_sequence_set_of_many_ranges_finds_messages(raw):
    selected(raw)
    untagged, tagged = raw.command(b"UID SEARCH 1:*")
    uids = untagged[0].split()[2:]
    assert uids, untagged
    wanted = b",".join([b"%d" % (1000000 + i) for i in range(50)] + [uids[0]])
    untagged, tagged = raw.command(b"UID SEARCH UID " + wanted)
    assert b" OK " in tagged, tagged
    assert untagged == [b"* SEARCH " + uids[0]], untagged


@pytest.mark.parametrize("name", [
    b'"../x"', b'".."', b'"."', b'"a/../b"', b'"a/./b"', b'"a/.."', b'"INBOX/.."', b'"a//b"', b'"/a"',
    b'"a&AAA-b"', b'"a&AB8-b"', b'{3+}\r\na\x00b', b'{3+}\r\na\x01b',
])
def test_hostile_mailbox_names_refused(server, raw, name):
    raw.command(b"CREATE HostileSource")
    for command in (b"CREATE " + name, b"RENAME INBOX " + name, b"RENAME HostileSource " + name):
        _, tagged = raw.command(command)
        assert tagged.split()[1] == b"NO", (command, tagged)
        assert b"[CANNOT]" in tagged and b"mailbox name" in tagged, (command, tagged)
        assert_plain(tagged)
    untagged, _ = raw.command(b'LIST "" "*"')
    assert all(b".." not in line and b"/./" not in line for line in untagged), untagged
    _, tagged = raw.command(b"NOOP")
    assert b" OK " in tagged
    assert_others_answer(server)


def test_names_with_dots_inside_still_allowed(raw):
    for name in (b"a.b", b"...x", b"x..", b".hidden/sub"):
        _, tagged = raw.command(b'CREATE "' + name + b'"')
        assert b" OK " in tagged, (name, tagged)

"""IMAP4rev2 (RFC 9051) with a raw client: announced, and ENABLE IMAP4rev2
turns on its behaviour for that session only: no \\Recent (neither the
flag nor RECENT responses), no UNSEEN code and a LIST response at SELECT,
CLOSED when another mailbox is selected, SEARCH answered as ESEARCH,
mailbox names in UTF-8; other sessions keep IMAP4rev1's."""

import re

import pytest

from ..imapclient import Raw


def message(subject: bytes) -> bytes:
    return b"From: a@example.org\r\nSubject: " + subject + b"\r\n\r\nbody\r\n"


def append(raw: Raw, mailbox: bytes, data: bytes, flags: bytes = b"()") -> None:
    _, tagged = raw.command(b"APPEND " + mailbox + b" " + flags + b" {%d+}\r\n%s" % (len(data), data))
    assert b" OK " in tagged, tagged


@pytest.fixture(scope="module")
def rev2(server):
    client = Raw(server.ports["IMAP"])
    client.login()
    client.command(b"CREATE R2")
    client.command(b"CREATE R2b")
    append(client, b"R2", message(b"one"))
    append(client, b"R2", message(b"two"), b"(\\Seen)")
    untagged, tagged = client.command(b"ENABLE IMAP4rev2")
    assert untagged == [b"* ENABLED IMAP4rev2"] and b" OK " in tagged
    yield client
    client.close()


@pytest.fixture(scope="module")
def rev1(server):
    client = Raw(server.ports["IMAP"])
    client.login()
    yield client
    client.close()


def test_announced(server):
    raw = Raw(server.ports["IMAP"])
    caps = raw.greeting.split(b"]")[0].split()
    assert b"IMAP4rev2" in caps and b"IMAP4rev1" in caps
    raw.close()


def test_enable(rev2):
    # RFC 5161 3.1: only what this command turned on; unknown names are left out.
    untagged, _ = rev2.command(b"ENABLE IMAP4rev2 X-UNKNOWN")
    assert untagged == [b"* ENABLED"]
    _, tagged = rev2.command(b"ENABLE")
    assert tagged.split()[1] == b"BAD"


def test_select_without_recent_and_unseen(rev2):
    untagged, tagged = rev2.command(b"SELECT R2")
    assert b" OK [READ-WRITE] " in tagged
    assert not any(b"RECENT" in line or b"[UNSEEN" in line for line in untagged), untagged
    assert b"* 2 EXISTS" in untagged
    assert b'* LIST () "/" R2' in untagged
    untagged, _ = rev2.command(b"FETCH 1:* (FLAGS)")
    assert untagged == [b"* 1 FETCH (FLAGS ())", b"* 2 FETCH (FLAGS (\\Seen))"]


def test_search_is_esearch(rev2):
    rev2.command(b"SELECT R2")
    tag = rev2.tag()
    rev2.send(tag + b" SEARCH ALL\r\n")
    untagged, _ = rev2.until(tag)
    assert untagged == [b'* ESEARCH (TAG "' + tag + b'") ALL 1:2']
    tag = rev2.tag()
    rev2.send(tag + b" UID SEARCH UNSEEN\r\n")
    untagged, _ = rev2.until(tag)
    assert untagged == [b'* ESEARCH (TAG "' + tag + b'") UID ALL 1']
    tag = rev2.tag()
    rev2.send(tag + b" SEARCH DELETED\r\n")
    untagged, _ = rev2.until(tag)
    assert untagged == [b'* ESEARCH (TAG "' + tag + b'")']
    # RECENT matches nothing: there is no \Recent.
    tag = rev2.tag()
    rev2.send(tag + b" SEARCH RECENT\r\n")
    untagged, _ = rev2.until(tag)
    assert untagged == [b'* ESEARCH (TAG "' + tag + b'")']


def test_new_message_without_recent(rev2, rev1):
    rev2.command(b"SELECT R2")
    append(rev1, b"R2", message(b"three"))
    untagged, _ = rev2.command(b"NOOP")
    assert untagged == [b"* 3 EXISTS"]


def test_closed_on_select_of_another(rev2):
    rev2.command(b"SELECT R2")
    untagged, tagged = rev2.command(b"EXAMINE R2b")
    assert untagged[0] == b"* OK [CLOSED] previous mailbox closed", untagged
    assert b" OK [READ-ONLY] " in tagged
    rev2.command(b"UNSELECT")
    untagged, _ = rev2.command(b"SELECT R2b")
    assert not any(b"CLOSED" in line for line in untagged)


def test_status_size_deleted(rev2):
    untagged, tagged = rev2.command(b"STATUS R2 (MESSAGES SIZE DELETED UIDNEXT)")
    assert b" OK " in tagged
    assert re.fullmatch(rb"\* STATUS R2 \(MESSAGES 3 SIZE \d+ DELETED 0 UIDNEXT 4\)", untagged[0]), untagged


def test_utf8_mailbox_names(rev2, rev1):
    name = "Entw\u00fcrfe & Co".encode()
    _, tagged = rev2.command(b'CREATE "' + name + b'"')
    assert b" OK " in tagged, tagged
    untagged, _ = rev2.command(b'LIST "" "Entw*"')
    assert untagged == [b'* LIST (\\HasNoChildren) "/" "' + name + b'"']
    untagged, _ = rev2.command(b'STATUS "' + name + b'" (MESSAGES)')
    assert untagged == [b'* STATUS "' + name + b'" (MESSAGES 0)']
    # An IMAP4rev1 session sees it in modified UTF-7.
    untagged, _ = rev1.command(b'LIST "" "Entw*"')
    assert untagged == [b'* LIST (\\HasNoChildren) "/" "Entw&APw-rfe &- Co"']


def test_rev1_session_unchanged(rev1):
    append(rev1, b"R2b", message(b"fresh"))
    untagged, _ = rev1.command(b"SELECT R2b")
    assert b"* 1 RECENT" in untagged
    untagged, _ = rev1.command(b"SEARCH ALL")
    assert untagged == [b"* SEARCH 1"]
    untagged, _ = rev1.command(b"FETCH 1 (FLAGS)")
    assert untagged == [b"* 1 FETCH (FLAGS (\\Recent))"]

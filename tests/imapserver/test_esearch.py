"""ESEARCH (RFC 4731) and SEARCHRES (RFC 5182) with a raw client: the
RETURN options and their ESEARCH answers, "$" in later commands, when the
saved result is reset, and bad RETURN syntax answered BAD."""

import pytest

from ..imapclient import Raw


def message(n: int) -> bytes:
    return b"From: a@example.org\r\nSubject: m%d\r\n\r\nbody %d\r\n" % (n, n)


@pytest.fixture(scope="module")
def raw(server):
    """A session with mailbox ES selected: 12 messages, 2, 10 and 11 \\Flagged (as in RFC 4731 3.1)."""
    client = Raw(server.ports["IMAP"])
    client.login()
    _, tagged = client.command(b"CREATE ES")
    assert b" OK " in tagged, tagged
    for n in range(1, 13):
        data = message(n)
        flags = b"(\\Flagged)" if n in (2, 10, 11) else b"()"
        _, tagged = client.command(b"APPEND ES %s {%d+}\r\n%s" % (flags, len(data), data))
        assert b" OK " in tagged, tagged
    _, tagged = client.command(b"SELECT ES")
    assert b" OK " in tagged, tagged
    yield client
    client.close()


def esearch(raw: Raw, command: bytes) -> list[bytes]:
    tag = raw.tag()
    raw.send(tag + b" " + command + b"\r\n")
    untagged, tagged = raw.until(tag)
    assert tagged.startswith(tag + b" OK"), tagged
    return untagged


def test_capabilities(raw):
    _, tagged = raw.command(b"NOOP")
    untagged, _ = raw.command(b"CAPABILITY")
    caps = untagged[0].split()
    assert b"ESEARCH" in caps and b"SEARCHRES" in caps


def test_rfc4731_examples(raw):
    tag = raw.tag()
    raw.send(tag + b" SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n")
    untagged, tagged = raw.until(tag)
    assert untagged == [b'* ESEARCH (TAG "' + tag + b'") MIN 2 COUNT 3'], untagged
    assert b" OK " in tagged
    tag = raw.tag()
    raw.send(tag + b" SEARCH RETURN () FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n")
    untagged, _ = raw.until(tag)
    assert untagged == [b'* ESEARCH (TAG "' + tag + b'") ALL 2,10:11']
    tag = raw.tag()
    raw.send(tag + b" UID SEARCH RETURN (MIN MAX COUNT ALL) FLAGGED\r\n")
    untagged, _ = raw.until(tag)
    assert untagged == [b'* ESEARCH (TAG "' + tag + b'") UID MIN 2 MAX 11 COUNT 3 ALL 2,10:11']


def test_nothing_found(raw):
    # RFC 4731 3.1: MIN, MAX and ALL are left out when nothing matched, COUNT is 0.
    tag = raw.tag()
    raw.send(tag + b" SEARCH RETURN (MIN MAX ALL COUNT) DELETED\r\n")
    untagged, _ = raw.until(tag)
    assert untagged == [b'* ESEARCH (TAG "' + tag + b'") COUNT 0']
    # Without RETURN, the IMAP4rev1 answer.
    assert esearch(raw, b"SEARCH FLAGGED") == [b"* SEARCH 2 10 11"]


def test_save_and_reference(raw):
    # RFC 5182 2.4: SAVE alone answers no ESEARCH; "$" then names the saved messages.
    assert esearch(raw, b"UID SEARCH RETURN (SAVE) FLAGGED") == []
    untagged = esearch(raw, b"FETCH $ (UID)")
    assert untagged == [b"* 2 FETCH (UID 2)", b"* 10 FETCH (UID 10)", b"* 11 FETCH (UID 11)"]
    assert esearch(raw, b"UID FETCH $ (UID)") == untagged
    # "$" as a search key, alone and after UID.
    assert esearch(raw, b"SEARCH $ SINCE 1-Feb-1994") == [b"* SEARCH 2 10 11"]
    assert esearch(raw, b"UID SEARCH UID $") == [b"* SEARCH 2 10 11"]
    assert esearch(raw, b"SEARCH NOT $ 1:5") == [b"* SEARCH 1 3 4 5"]
    # SAVE with MIN and MAX keeps only those; with other options as well, the answer comes too.
    tag = raw.tag()
    raw.send(tag + b" SEARCH RETURN (SAVE MIN MAX) FLAGGED\r\n")
    untagged, _ = raw.until(tag)
    assert untagged == [b'* ESEARCH (TAG "' + tag + b'") MIN 2 MAX 11']
    assert esearch(raw, b"FETCH $ (UID)") == [b"* 2 FETCH (UID 2)", b"* 11 FETCH (UID 11)"]
    # STORE and COPY take it as well.
    assert esearch(raw, b"STORE $ +FLAGS.SILENT (\\Answered)") == []
    assert esearch(raw, b"SEARCH ANSWERED") == [b"* SEARCH 2 11"]
    _, tagged = raw.command(b"COPY $ INBOX")
    assert b" OK [COPYUID " in tagged, tagged


def test_failed_search_resets(raw):
    esearch(raw, b"SEARCH RETURN (SAVE) FLAGGED")
    assert len(esearch(raw, b"FETCH $ (UID)")) == 3
    _, tagged = raw.command(b"SEARCH RETURN (SAVE) CHARSET KOI8-R FLAGGED")
    assert b" NO [BADCHARSET" in tagged, tagged
    # RFC 5182 2.1: a failed SEARCH with SAVE leaves "$" empty: FETCH $ answers nothing.
    assert esearch(raw, b"FETCH $ (UID)") == []
    assert esearch(raw, b"SEARCH $") == [b"* SEARCH"]


def test_reset_on_select(raw):
    esearch(raw, b"SEARCH RETURN (SAVE) FLAGGED")
    assert len(esearch(raw, b"FETCH $ (UID)")) == 3
    _, tagged = raw.command(b"SELECT ES")
    assert b" OK " in tagged
    assert esearch(raw, b"FETCH $ (UID)") == []


def test_expunged_leave_the_saved_result(raw):
    _, tagged = raw.command(b"CREATE ES2")
    for n in (1, 2, 3):
        data = message(n)
        raw.command(b"APPEND ES2 (\\Seen) {%d+}\r\n%s" % (len(data), data))
    raw.command(b"SELECT ES2")
    esearch(raw, b"SEARCH RETURN (SAVE) SEEN")
    raw.command(b"STORE 2 +FLAGS.SILENT (\\Deleted)")
    assert esearch(raw, b"EXPUNGE") == [b"* 2 EXPUNGE"]
    assert esearch(raw, b"FETCH $ (UID)") == [b"* 1 FETCH (UID 1)", b"* 2 FETCH (UID 3)"]
    raw.command(b"SELECT ES")


@pytest.mark.parametrize("command", [
    b"SEARCH RETURN (BOGUS) ALL",
    b"SEARCH RETURN MIN ALL",
    b"SEARCH RETURN",
    b"FETCH $,1 (UID)",
    b"SEARCH RETURN ((MIN)) ALL",
])
def test_bad_syntax(raw, command):
    _, tagged = raw.command(command)
    assert tagged.split()[1] == b"BAD", tagged
    assert esearch(raw, b"SEARCH FLAGGED") == [b"* SEARCH 2 10 11"]

"""LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC 5819) and CHILDREN (RFC 3348)
with a raw client, on the mailboxes of RFC 5258's examples: selection
options, return options, several patterns,
CHILDINFO, STATUS after LIST, and bad options answered BAD."""

import re

import pytest

from ..imapclient import Raw

LINE = re.compile(rb'\* LIST \(([^)]*)\) "/" (\S+)(?: (.*))?$')
OURS = (b"Fruit", b"Tofu", b"Vegetable")


@pytest.fixture(scope="module")
def raw(server):
    client = Raw(server.ports["IMAP"])
    client.login()
    for name in (b"Fruit", b"Fruit/Apple", b"Fruit/Banana", b"Tofu", b"Vegetable", b"Vegetable/Broccoli",
                 b"Vegetable/Corn"):
        _, tagged = client.command(b"CREATE " + name)
        assert b" OK " in tagged, tagged
    for name in (b"Fruit", b"Fruit/Apple", b"Tofu", b"Vegetable/Corn"):
        client.command(b"UNSUBSCRIBE " + name)
    for name in (b"Fruit/Banana", b"Vegetable", b"Vegetable/Broccoli"):
        _, tagged = client.command(b"SUBSCRIBE " + name)
        assert b" OK " in tagged, tagged
    client.command(b'APPEND Tofu {20+}\r\nSubject: t\r\n\r\nbody\r\n')
    yield client
    client.close()


def listing(raw: Raw, command: bytes) -> dict[bytes, tuple[set[bytes], bytes]]:
    """Our mailboxes in LIST's answer: name -> (attributes, extended data)."""
    untagged, tagged = raw.command(command)
    assert b" OK " in tagged, tagged
    out = {}
    for line in untagged:
        m = LINE.match(line)
        if m and m.group(2).strip(b'"').split(b"/")[0] in OURS:
            out[m.group(2).strip(b'"')] = (set(m.group(1).split()), m.group(3) or b"")
    return out


def test_capabilities(raw):
    untagged, _ = raw.command(b"CAPABILITY")
    caps = untagged[0].split()
    assert b"LIST-EXTENDED" in caps and b"LIST-STATUS" in caps and b"CHILDREN" in caps


def test_subscribed_selection(raw):
    # RFC 5258 5, example 2 (without the subscribed Fruit/Peach, which no mailbox here can be).
    found = listing(raw, b'LIST (SUBSCRIBED) "" "*"')
    assert set(found) == {b"Fruit/Banana", b"Vegetable", b"Vegetable/Broccoli"}
    assert all(b"\\Subscribed" in attrs for attrs, _ in found.values())
    assert b"\\HasChildren" in found[b"Vegetable"][0]


def test_return_subscribed_and_children(raw):
    found = listing(raw, b'LIST "" "%" RETURN (SUBSCRIBED CHILDREN)')
    assert found[b"Fruit"][0] == {b"\\HasChildren"}
    assert found[b"Vegetable"][0] == {b"\\HasChildren", b"\\Subscribed"}
    assert found[b"Tofu"][0] == {b"\\HasNoChildren"}


def test_recursivematch_childinfo(raw):
    # RFC 5258 5, example 5.
    found = listing(raw, b'LIST (SUBSCRIBED RECURSIVEMATCH) "" "%" RETURN (CHILDREN)')
    assert set(found) == {b"Fruit", b"Vegetable"}
    assert b"\\Subscribed" not in found[b"Fruit"][0]
    assert found[b"Fruit"][1] == b'("CHILDINFO" ("SUBSCRIBED"))'
    assert b"\\Subscribed" in found[b"Vegetable"][0]
    assert found[b"Vegetable"][1] == b'("CHILDINFO" ("SUBSCRIBED"))'


def test_several_patterns(raw):
    # RFC 5258 5, example 10: a list of patterns; each mailbox once.
    found = listing(raw, b'LIST () "" ("Fruit/%" "Vegetable/*" "Fruit/Apple")')
    assert set(found) == {b"Fruit/Apple", b"Fruit/Banana", b"Vegetable/Broccoli", b"Vegetable/Corn"}


def test_status(raw):
    # RFC 5819 2: a STATUS after each listed mailbox.
    untagged, tagged = raw.command(b'LIST "" "Tofu" RETURN (STATUS (MESSAGES UNSEEN UIDNEXT UIDVALIDITY SIZE DELETED))')
    assert b" OK " in tagged
    assert untagged[0].startswith(b'* LIST (\\HasNoChildren) "/" Tofu')
    assert re.fullmatch(rb"\* STATUS Tofu \(MESSAGES 1 UNSEEN 1 UIDNEXT 2 UIDVALIDITY \d+ SIZE 20 DELETED 0\)",
                        untagged[1]), untagged
    # Not for a mailbox left out by the selection (RECURSIVEMATCH's unsubscribed parent).
    untagged, _ = raw.command(b'LIST (SUBSCRIBED RECURSIVEMATCH) "" "Fruit" RETURN (STATUS (MESSAGES))')
    assert untagged == [b'* LIST (\\HasChildren) "/" Fruit ("CHILDINFO" ("SUBSCRIBED"))']


def test_special_use_selection(raw):
    untagged, _ = raw.command(b'LIST (SPECIAL-USE) "" "*"')
    assert untagged and all(re.search(rb"\\(Sent|Trash|Drafts|Junk|Archive|All|Flagged)", line) for line in untagged)


def test_plain_list_unchanged(raw):
    untagged, _ = raw.command(b'LIST "" "Fruit*"')
    assert untagged == [b'* LIST (\\HasChildren) "/" Fruit', b'* LIST (\\HasNoChildren) "/" Fruit/Apple',
                        b'* LIST (\\HasNoChildren) "/" Fruit/Banana']
    untagged, _ = raw.command(b'LIST () "" ""')
    assert untagged == [b'* LIST (\\Noselect) "/" ""']


@pytest.mark.parametrize("command", [
    b'LIST (BOGUS) "" "*"',
    b'LIST (RECURSIVEMATCH) "" "*"',
    b'LIST "" "*" RETURN (BOGUS)',
    b'LIST "" "*" RETURN (STATUS)',
    b'LIST "" "*" RETURN (STATUS (NOPE))',
    b'LIST "" "*" RETURN CHILDREN',
    b'LIST "" ()',
    b'LIST ()',
])
def test_bad_options(raw, command):
    _, tagged = raw.command(command)
    assert tagged.split()[1] == b"BAD", tagged
    _, tagged = raw.command(b"NOOP")
    assert b" OK " in tagged

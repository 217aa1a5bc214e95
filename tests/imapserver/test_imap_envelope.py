"""ENVELOPE addresses and the SEARCH keys over them: group syntax shown with
its start and end markers (RFC 3501 7.4.2), names in the comment form found
by FROM/TO as ENVELOPE reports them, and SENTON/SENTBEFORE/SENTSINCE on the
Date header's own day, whatever the server's time zone (RFC 3501 6.4.4)."""

import smtplib

import pytest

from moxpy.message import address_list

from ..imapclient import Raw

GROUPS = (
    b"From: user@domain.org (Real Name)\r\n"
    b"To: group: a@b.example, \"Carl\" <c@d.example>;, after@e.example\r\n"
    b"Cc: undisclosed-recipients:;\r\n"
    b"Subject: groups and comments\r\n"
    b"Date: Sun, 25 Mar 2007 00:00:00 +0200\r\n"
    b"Message-ID: <groups-1@example.org>\r\n"
    b"\r\n"
    b"body\r\n"
)
# Early on the 25th far east and late on the 25th far west: the 24th and the 26th in UTC.
EAST = b"From: east@example.org\r\nSubject: east\r\nDate: Sun, 25 Mar 2007 00:30:00 +1400\r\n\r\nx\r\n"
WEST = b"From: west@example.org\r\nSubject: west\r\nDate: Sun, 25 Mar 2007 23:30:00 -1200\r\n\r\nx\r\n"
UNDATED = b"From: undated@example.org\r\nSubject: undated\r\n\r\nx\r\n"


@pytest.fixture(scope="module")
def uids(server):
    with smtplib.SMTP("127.0.0.1", server.smtp_port) as smtp:
        for data in (GROUPS, EAST, WEST, UNDATED):
            smtp.sendmail("sender@example.org", ["mox@localhost"], data)
    rows = server.wait_for(lambda: len(server.messages()) == 4 and server.messages())
    return {r["subject"]: r["uid"] for r in rows}


@pytest.fixture
def raw(server, uids):
    client = Raw(server.ports["IMAP"])
    client.login()
    client.command(b"EXAMINE INBOX")
    yield client
    client.close()


def search(raw: Raw, criteria: bytes) -> list[int]:
    untagged, tagged = raw.command(b"UID SEARCH " + criteria)
    assert b" OK " in tagged, tagged
    return [int(x) for x in untagged[0].split()[2:]]


def test_envelope_shows_groups_and_comment_names(raw, uids):
    untagged, tagged = raw.command(b"UID FETCH %d ENVELOPE" % uids["groups and comments"])
    assert b" OK " in tagged
    envelope = b" ".join(untagged)
    assert b'(("Real Name" NIL "user" "domain.org"))' in envelope
    assert (b'((NIL NIL "group" NIL)(NIL NIL "a" "b.example")("Carl" NIL "c" "d.example")(NIL NIL NIL NIL)'
            b'(NIL NIL "after" "e.example"))') in envelope
    assert b'((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL))' in envelope


def test_search_address_fields_match_envelope_names(raw, uids):
    groups = uids["groups and comments"]
    assert search(raw, b'FROM "Real Name"') == [groups]
    assert search(raw, b"FROM user@domain.org") == [groups]
    assert search(raw, b"TO Carl") == [groups]
    assert search(raw, b"TO c@d.example") == [groups]
    assert search(raw, b"TO after@e.example") == [groups]
    assert search(raw, b"TO group") == [groups]
    assert search(raw, b"CC nobody") == []
    assert search(raw, b"FROM west") == [uids["west"]]


def test_sent_dates_use_the_header_day(raw, uids):
    groups, east, west, undated = (uids[s] for s in ("groups and comments", "east", "west", "undated"))
    assert search(raw, b"SENTON 25-Mar-2007") == [groups, east, west]
    assert search(raw, b"SENTBEFORE 25-Mar-2007") == []
    assert search(raw, b"SENTBEFORE 26-Mar-2007") == [groups, east, west]
    assert search(raw, b"SENTSINCE 25-Mar-2007") == [groups, east, west]
    assert search(raw, b"SENTSINCE 26-Mar-2007") == []
    assert search(raw, b"SENTON 24-Mar-2007") == [] and search(raw, b"SENTON 26-Mar-2007") == []
    assert undated not in search(raw, b"OR SENTBEFORE 1-Jan-2100 SENTSINCE 1-Jan-1900")


@pytest.mark.parametrize("value, parts", [
    ("a@b.example", [(None, "a@b.example")]),
    ("g: a@b, c@d;", [("g", " a@b, c@d")]),
    ("x@y, g:;, z@w", [(None, "x@y,"), ("g", ""), (None, ", z@w")]),
    ('"Last, First" <l@f>, "Team: A" <t@a>', [(None, '"Last, First" <l@f>, "Team: A" <t@a>')]),
    ("a (note: x) <a@b>", [(None, "a (note: x) <a@b>")]),
    ("<@relay:u@h>", [(None, "<@relay:u@h>")]),
    ('"The \\"Team\\"": t@x;', [('The "Team"', " t@x")]),
    ("open: a@b", [("open", " a@b")]),
])
def test_split_groups(value, parts):
    assert address_list.split_groups(value) == parts

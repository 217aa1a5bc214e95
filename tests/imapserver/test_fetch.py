"""FETCH responses rendered from a message's bytes and MIME tree: body
sections by part number (RFC 3501 6.4.5), their labels, partial fetches,
BODYSTRUCTURE and ENVELOPE (7.4.2)."""

import pytest

from moxpy.imapserver import fetch
from moxpy.message import part as partlib
from moxpy.store import DeliveryMeta, Message

# 1 multipart/mixed: 1.1 text/plain, 1.2 message/rfc822; 2 text/plain.
MESSAGE = (b"From: a@example.org\r\nSubject: outer\r\nContent-Type: multipart/mixed; boundary=outer\r\n\r\n"
           b"--outer\r\nContent-Type: multipart/mixed; boundary=inner\r\n\r\n"
           b"--inner\r\nContent-Type: text/plain\r\n\r\nfirst text\r\n"
           b"--inner\r\nContent-Type: message/rfc822\r\n\r\n"
           b"From: b@example.org\r\nSubject: forwarded\r\nTo: c@example.org\r\n\r\nforwarded body\r\n"
           b"--inner--\r\n"
           b"--outer\r\nContent-Type: text/plain\r\n\r\nsecond part\r\n--outer--\r\n")
ROOT = partlib.parse(MESSAGE)
FORWARDED = b"From: b@example.org\r\nSubject: forwarded\r\nTo: c@example.org\r\n"


def section(item: bytes) -> bytes:
    (parsed,) = fetch.parse_items(item)
    return fetch.section_response(MESSAGE, ROOT, parsed)


def literal(value: bytes) -> bytes:
    return b"{%d}\r\n" % len(value) + value


@pytest.mark.parametrize("item, expected", [
    (b"BODY[]", b"BODY[] " + literal(MESSAGE)),
    (b"BODY.PEEK[1.1]", b"BODY[1.1] " + literal(b"first text")),
    (b"BODY.PEEK[1.1.MIME]", b"BODY[1.1.MIME] " + literal(b"Content-Type: text/plain\r\n\r\n")),
    # The body of a message/rfc822 part is the whole enclosed message; HEADER and TEXT are its own.
    (b"BODY.PEEK[1.2]", b"BODY[1.2] " + literal(FORWARDED + b"\r\nforwarded body")),
    (b"BODY.PEEK[1.2.HEADER]", b"BODY[1.2.HEADER] " + literal(FORWARDED + b"\r\n")),
    (b"BODY.PEEK[1.2.TEXT]", b"BODY[1.2.TEXT] " + literal(b"forwarded body")),
    (b"BODY.PEEK[1.2.HEADER.FIELDS (Subject to)]",
     b"BODY[1.2.HEADER.FIELDS (SUBJECT TO)] " + literal(b"Subject: forwarded\r\nTo: c@example.org\r\n\r\n")),
    (b"BODY.PEEK[1.2.HEADER.FIELDS.NOT (SUBJECT)]",
     b"BODY[1.2.HEADER.FIELDS.NOT (SUBJECT)] " + literal(b"From: b@example.org\r\nTo: c@example.org\r\n\r\n")),
    (b"BODY[2]", b"BODY[2] " + literal(b"second part")),
    (b"BODY.PEEK[TEXT]<2.5>", b"BODY[TEXT]<2> " + literal(b"outer")),
    (b"BODY.PEEK[]<1000.10>", b"BODY[]<1000> " + literal(b"")),
    # Parts that do not exist, and HEADER of a part that holds no message, are empty.
    (b"BODY.PEEK[3]", b"BODY[3] " + literal(b"")),
    (b"BODY.PEEK[1.1.HEADER]", b"BODY[1.1.HEADER] " + literal(b"")),
    (b"RFC822.HEADER", b"RFC822.HEADER " + literal(MESSAGE[:MESSAGE.index(b"\r\n\r\n") + 4])),
    (b"RFC822.TEXT", b"RFC822.TEXT " + literal(MESSAGE[MESSAGE.index(b"\r\n\r\n") + 4:])),
    (b"RFC822", b"RFC822 " + literal(MESSAGE)),
])
def test_body_sections(item, expected):
    assert section(item) == expected


@pytest.mark.parametrize("item", [b"BODY[]<-1.5>", b"BODY.PEEK[TEXT]<0.0>", b"BODY[1]<3.-2>"])
def test_a_partial_without_an_origin_of_0_or_more_and_a_count_of_1_or_more_is_refused(item):
    with pytest.raises(fetch.FetchError, match="origin"):
        fetch.parse_items(item)


def test_header_fields_keep_folded_lines_and_order():
    data = b"Subject: one\r\n two\r\nX-A: a\r\nsubject: again\r\n\r\nbody"
    (parsed,) = fetch.parse_items(b"BODY.PEEK[HEADER.FIELDS (SUBJECT)]")
    assert fetch.section_response(data, partlib.parse(data), parsed) == \
        b"BODY[HEADER.FIELDS (SUBJECT)] " + literal(b"Subject: one\r\n two\r\nsubject: again\r\n\r\n")


def test_peek_and_rfc822_header_do_not_set_seen():
    items = fetch.parse_items(b"(BODY.PEEK[] RFC822.HEADER BODY[TEXT] RFC822 RFC822.TEXT)")
    assert [i.sets_seen for i in items] == [False, False, True, True, True]


def test_what_rendering_needs():
    assert not fetch.needs_parts(fetch.parse_items(b"(UID FLAGS BODY.PEEK[])"))
    assert fetch.needs_bytes(fetch.parse_items(b"(UID FLAGS BODY.PEEK[])"))
    assert fetch.needs_parts(fetch.parse_items(b"BODY.PEEK[1]"))
    assert fetch.needs_parts(fetch.parse_items(b"ENVELOPE")) and not fetch.needs_bytes(fetch.parse_items(b"FULL"))


def test_bodystructure_and_envelope():
    text = b'("TEXT" "PLAIN" NIL NIL NIL "7BIT" %d 1 NIL NIL NIL NIL)'
    forwarded_env = (b'(NIL "forwarded" ((NIL NIL "b" "example.org")) ((NIL NIL "b" "example.org")) '
                     b'((NIL NIL "b" "example.org")) ((NIL NIL "c" "example.org")) NIL NIL NIL NIL)')
    assert fetch.bodystructure(ROOT, True) == (
        b'((' + text % 10 + b'("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 76 ' + forwarded_env + b" " + text % 14
        + b' 5 NIL NIL NIL NIL) "MIXED" ("boundary" "inner") NIL NIL NIL)' + text % 11
        + b' "MIXED" ("boundary" "outer") NIL NIL NIL)')
    # BODY is BODYSTRUCTURE without the extension data.
    assert fetch.bodystructure(partlib.parse(b"Subject: x\r\n\r\nhi\r\n"), False) == \
        b'("TEXT" "PLAIN" NIL NIL NIL "7BIT" 4 1)'
    assert fetch.envelope(ROOT.envelope) == \
        b'(NIL "outer" ((NIL NIL "a" "example.org")) ((NIL NIL "a" "example.org")) ((NIL NIL "a" "example.org")) ' \
        b'NIL NIL NIL NIL NIL)'
    assert fetch.envelope(None) == b"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"


def test_flags_with_recent_and_keywords():
    assert fetch.flags(["\\Seen", "$Forwarded", "label"], recent=True) == b"FLAGS (\\Seen $Forwarded \\Recent label)"
    assert fetch.flags([]) == b"FLAGS ()"


def test_response_of_a_message():
    message = Message(id=7, mailbox_id=1, uid=42, modseq=1, received=0, size=len(MESSAGE), flags=["\\Seen"],
                      message_id="", subject="outer", msg_from="a@example.org", date=None, meta=DeliveryMeta())
    items = ["UID"] + fetch.parse_items(b"(RFC822.SIZE BODY[2])")
    flags = fetch.flags(message.flags)
    assert fetch.response(3, message, items, flags, data=MESSAGE, root=ROOT, with_flags=True) == \
        b"* 3 FETCH (UID 42 RFC822.SIZE %d BODY[2] {11}\r\nsecond part FLAGS (\\Seen))\r\n" % len(MESSAGE)

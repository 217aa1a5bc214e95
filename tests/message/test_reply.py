"""Replies and forwards as values: subjects, threading references,
reply recipients, and a whole message attached as message/rfc822."""

import base64
import email
import email.policy

import pytest

from moxpy.message import compose as composelib
from moxpy.message import reply
from moxpy.message.address import parse_address


@pytest.mark.parametrize("original, prefix, expected", [
    ("Plans", "Re", "Re: Plans"),
    ("Re: Plans", "Re", "Re: Plans"),
    ("RE: re:Plans", "Re", "Re: Plans"),
    ("Re: Fwd: Plans", "Re", "Re: Plans"),
    ("Re[2]: Re(3): Re^4: Plans", "Re", "Re: Plans"),
    ("AW: WG: SV: Antw: Plans", "Re", "Re: Plans"),
    ("Fw: FWD: Plans", "Fwd", "Fwd: Plans"),
    ("  Re :  Plans  ", "Re", "Re: Plans"),
    ("", "Re", "Re:"),
    ("Re:", "Fwd", "Fwd:"),
    # Words that only begin like a prefix stay.
    ("Regarding: Plans", "Re", "Re: Regarding: Plans"),
    ("Real plans", "Re", "Re: Real plans"),
    ("Plans re: Monday", "Re", "Re: Plans re: Monday"),
])
def test_subject_gets_one_prefix(original, prefix, expected):
    assert reply.subject(original, prefix) == expected


def original(**kw) -> reply.Original:
    values = dict(subject="s", message_id="<m@x>", in_reply_to="", references=[], from_=[], reply_to=[],
                  to=[], cc=[])
    return reply.Original(**{**values, **kw})


def test_references_continue_the_thread():
    assert reply.references(original(references=["<a@x>", "<b@x>"])) == ["<a@x>", "<b@x>", "<m@x>"]
    # Without References, the In-Reply-To is the earlier link.
    assert reply.references(original(in_reply_to="<b@x>")) == ["<b@x>", "<m@x>"]
    assert reply.references(original()) == ["<m@x>"]
    # Nothing to refer to without a Message-ID.
    assert reply.references(original(message_id="", references=["<a@x>"])) == []
    assert reply.references(original(message_id="no-brackets@x")) == []
    # Malformed and overlong IDs are left out; the thread's start and its latest messages are kept.
    assert reply.references(original(references=["junk", "<" + "a" * 300 + "@x>", "<ok@x>"])) == ["<ok@x>", "<m@x>"]
    long = [f"<r{i}@x>" for i in range(200)]
    refs = reply.references(original(references=long))
    assert len(refs) == reply.MAX_REFERENCES
    assert refs[0] == "<r0@x>" and refs[-2:] == ["<r199@x>", "<m@x>"]


def test_reply_recipients():
    own = lambda address: address.lower().startswith("me@")
    orig = original(from_=[("Alice", "alice@x")], to=[("", "me@x"), ("Bob", "bob@x"), ("", "ALICE@x")],
                    cc=[("Carol", "carol@x"), ("Bob again", "BOB@x"), ("", "Me@x")])
    assert reply.reply_recipients(orig, False, own) == ([("Alice", "alice@x")], [])
    assert reply.reply_recipients(orig, True, own) == ([("Alice", "alice@x")], [("Bob", "bob@x"), ("Carol", "carol@x")])
    orig.reply_to = [("List", "list@x")]
    assert reply.reply_recipients(orig, False, own) == ([("List", "list@x")], [])
    to, cc = reply.reply_recipients(orig, True, own)
    assert to == [("List", "list@x")] and [a for _, a in cc] == ["bob@x", "ALICE@x", "carol@x"]


def test_original_reads_headers_and_cleans_texts():
    data = (b"From: =?utf-8?q?Al=0Aice?= <alice@x>\r\nReply-To: r@x\r\nTo: a@x, b@x\r\nCc: c@x\r\n"
            b"Subject: =?utf-8?q?two=0Alines?=\r\nMessage-ID: <m@x>\r\nIn-Reply-To: <p@x> (comment)\r\n"
            b"References: <a@x>\r\n\t<p@x>\r\n\r\nbody\r\n")
    orig = reply.original(data)
    assert orig.subject == "two lines"
    assert orig.from_ == [("Al ice", "alice@x")]
    assert [a for _, a in orig.reply_to] == ["r@x"]
    assert [a for _, a in orig.to] == ["a@x", "b@x"] and [a for _, a in orig.cc] == ["c@x"]
    assert (orig.message_id, orig.in_reply_to, orig.references) == ("<m@x>", "<p@x>", ["<a@x>", "<p@x>"])


def test_forward_filename():
    assert reply.forward_filename("Re: Plans/2024") == "Re Plans 2024.eml"
    assert reply.forward_filename("") == "message.eml"
    assert len(reply.forward_filename("x" * 500)) == 104


def forward(data: bytes) -> email.message.Message:
    draft = composelib.Draft(sender=("Me", parse_address("me@example.org")), to=[("", parse_address("a@x"))],
                             subject="Fwd: x", text="see attached",
                             attached_messages=[composelib.Attachment(data=data, name="x.eml")],
                             attached_files=[composelib.Attachment(data=b"notes", name="notes.txt")])
    composed = composelib.compose(draft).data
    return composed, email.message_from_bytes(composed, policy=email.policy.default)


def test_attached_message_is_kept_as_it_is():
    data = b"From: a@x\r\nSubject: inner\r\n\r\nline one\r\nline two\r\n"
    composed, msg = forward(data)
    text, attached, notes = msg.iter_parts()
    assert (attached.get_content_type(), attached["Content-Transfer-Encoding"]) == ("message/rfc822", "7bit")
    assert attached.get_filename() == "x.eml"
    assert b"\r\n\r\n" + data + b"\r\n--" in composed
    assert attached.get_content()["Subject"] == "inner"
    assert notes.get_filename() == "notes.txt"


def test_attached_message_with_8bit_or_bare_line_ends_or_long_lines():
    composed, msg = forward("Subject: ü\n\nGrüße\rzwei".encode())
    attached = list(msg.iter_parts())[1]
    assert attached["Content-Transfer-Encoding"] == "8bit"
    # Line ends become CRLF (RFC 5322 2.3), the last line gets one.
    assert b"\r\n\r\n" + "Subject: ü\r\n\r\nGrüße\r\nzwei\r\n".encode() + b"\r\n--" in composed
    # RFC 5322 2.1.1: a line over 998 octets cannot go as 7bit or 8bit.
    long = b"Subject: long\r\n\r\n" + b"x" * 2000 + b"\r\n"
    composed, msg = forward(long)
    attached = list(msg.iter_parts())[1]
    assert attached["Content-Transfer-Encoding"] == "base64"
    assert max(len(line) for line in composed.split(b"\r\n")) <= 78
    encoded = composed.split(b"Content-Transfer-Encoding: base64\r\n", 1)[1].split(b"\r\n\r\n", 1)[1]
    assert base64.b64decode(encoded.split(b"\r\n--", 1)[0]) == long

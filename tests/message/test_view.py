"""The message view MessageGet and incoming webhooks share, built from bytes."""

import msgspec
import pytest

from moxpy.message import view
from moxpy.webapi import types as webapi
from moxpy.webhooks import types as webhook

MESSAGE = (b"From: =?utf-8?q?J=C3=BCrgen?= <jurgen@example.org>\r\n"
           b"To: a@example.com, \"B, Person\" <b@example.com>\r\n"
           b"Cc: c@example.com\r\nReply-To: replies@example.org\r\n"
           b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n"
           b"Message-ID: <m2@example.org>\r\nIn-Reply-To: <m1@example.org>\r\n"
           b"References: <m0@example.org>\r\n\t<m0b@example.org>\r\n"
           b"Date: Mon, 2 Mar 2026 10:00:00 +0100\r\n"
           b"MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n"
           b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello\r\nthere\r\n"
           b"--b\r\nContent-Type: text/html\r\n\r\n<p>hello</p>\r\n--b--\r\n")


def test_view_of_a_message():
    v = view.build(MESSAGE)
    assert v.From == [view.Correspondent("Jürgen", "jurgen@example.org")]
    assert [a.Address for a in v.To] == ["a@example.com", "b@example.com"] and v.To[1].Name == "B, Person"
    assert [a.Address for a in v.CC + v.ReplyTo] == ["c@example.com", "replies@example.org"] and v.BCC == []
    assert (v.Subject, v.MessageID, v.InReplyTo) == ("Grüße", "<m2@example.org>", "<m1@example.org>")
    assert v.References == ["<m0@example.org>", "<m0b@example.org>"]
    # mox's MessageGet puts In-Reply-To in front when References lacks it.
    assert v.thread_references == ["<m1@example.org>", "<m0@example.org>", "<m0b@example.org>"]
    assert v.Date.isoformat() == "2026-03-02T10:00:00+01:00"
    assert (v.Text, v.HTML) == ("hello\nthere", "<p>hello</p>")
    assert v.Structure["ContentType"] == "multipart/alternative"
    assert [p["ContentType"] for p in v.Structure["Parts"]] == ["text/plain", "text/html"]


def test_thread_references_do_not_repeat_in_reply_to():
    v = view.build(b"In-Reply-To: <a@x>\r\nReferences: <0@x> <a@x>\r\n\r\nbody\r\n")
    assert v.thread_references == v.References == ["<0@x>", "<a@x>"]


def test_view_fills_the_webapi_and_webhook_types_by_name():
    v = view.build(MESSAGE)
    for kind in (webapi.Message, webhook.Incoming):
        converted = msgspec.convert(v, kind, from_attributes=True)
        assert converted.From == [webhook.NameAddress("Jürgen", "jurgen@example.org")]
        assert converted.Subject == "Grüße" and converted.Text == "hello\nthere" and converted.Date == v.Date
    assert msgspec.convert(v, webhook.Incoming, from_attributes=True).InReplyTo == "<m1@example.org>"
    assert msgspec.convert(v, webhook.Incoming, from_attributes=True).Structure.Parts[1].ContentType == "text/html"


@pytest.mark.parametrize("header,mail_from,automated", [
    (b"Subject: hi", "someone@example.org", False),
    (b"Subject: hi", "", True),  # a bounce: null reverse path
    (b"List-Id: <list.example.org>", "someone@example.org", True),
    (b"Precedence: bulk", "someone@example.org", True),
    (b"Auto-Submitted: auto-replied", "someone@example.org", True),
    (b"Auto-Submitted: no", "someone@example.org", False),
    (b"Content-Type: multipart/report; report-type=disposition-notification; boundary=b", "x@example.org", True),
])
def test_automated(header, mail_from, automated):
    assert view.build(header + b"\r\n\r\nbody\r\n").automated(mail_from) is automated

"""The MIME body compose writes is the one the email package used to write: for a range of drafts, the
message parsed by the email package has the same tree (content types, parameters, transfer encodings,
dispositions, file names, content IDs, decoded content) as the body made by the email package's
MIMEPart.set_content, which compose used before, kept here as the reference. And no line is longer
than 78 characters where none was."""

from __future__ import annotations

import email
import functools
import random
import re
from email import policy
from email.headerregistry import HeaderRegistry
from email.message import MIMEPart

import pytest

from moxpy.message import compose as composelib
from moxpy.message.address import parse_address
from moxpy.message.compose import Attachment, Draft

SENDER = ("Alice", parse_address("alice@example.org"))
BOB = ("Bob", parse_address("bob@example.com"))


# The reference: how compose made the body with the email package.

class _Registry(HeaderRegistry):
    @functools.lru_cache(maxsize=256)
    def __getitem__(self, name):
        return super().__getitem__(name)


_POLICY = policy.SMTP.clone(max_line_length=78, header_factory=_Registry())
_POLICY_UTF8 = policy.SMTPUTF8.clone(max_line_length=78, header_factory=_Registry())
_PARSE = _Registry()


def _old_cte(text: str) -> tuple[str, str]:
    ascii_text = text.isascii()
    short = all(len(line) <= 78 for line in text.split("\n"))
    return "us-ascii" if ascii_text else "utf-8", "7bit" if ascii_text and short else "quoted-printable"


def _old_file(f: Attachment, disposition: str) -> dict:
    value = f.content_type or composelib.detect_content_type(f.data, f.name)
    maintype, _, subtype = value.split(";")[0].strip().lower().partition("/")
    params = _PARSE("Content-Type", value).params if ";" in value else {}
    return dict(maintype=maintype, subtype=subtype, disposition=disposition, filename=f.name or None,
                cid=f.content_id or None, params={k: v for k, v in params.items() if k})


def old_body(draft: Draft, utf8: bool) -> bytes:
    pol = _POLICY_UTF8 if utf8 else _POLICY
    body = MIMEPart(policy=pol)
    text = draft.text.replace("\r\n", "\n")
    html = draft.html.replace("\r\n", "\n")
    if text:
        charset, cte = _old_cte(text)
        body.set_content(text, subtype="plain", charset=charset, cte=cte)
        if html:
            charset, cte = _old_cte(html)
            body.add_alternative(html, subtype="html", charset=charset, cte=cte)
    elif html:
        charset, cte = _old_cte(html)
        body.set_content(html, subtype="html", charset=charset, cte=cte)
    for f in draft.alternative_files:
        body.add_alternative(f.data, **_old_file(f, "inline"))
    for subtype, files, disposition in (("related", draft.inline_files, "inline"),
                                        ("mixed", draft.attached_files, "attachment")):
        if files:
            outer = MIMEPart(policy=pol)
            getattr(outer, "make_" + subtype)()
            outer.attach(body)
            for f in files:
                part = MIMEPart(policy=pol)
                part.set_content(f.data, **_old_file(f, disposition))
                outer.attach(part)
            body = outer
    return body.as_bytes(policy=pol)


# The drafts.

_rand = random.Random(2045)
BINARY = _rand.randbytes(100 * 1024)
CALENDAR = Attachment(b"BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n", "invite.ics",
                      "text/calendar; method=REQUEST; charset=utf-8")
LOGO = Attachment(b"\x89PNG\r\n\x1a\n" + _rand.randbytes(3000), "logo.png", content_id="<logo@example.org>")
PDF = Attachment(b"%PDF-1.4 report", "report.pdf")
PROSE = "The quick brown fox jumps over the lazy dog.\n" * 30
UMLAUTS = "Grüße aus Köln, schöne Größe.\n" * 10

DRAFTS = {
    "text": dict(text="hello\n"),
    "text-without-final-newline": dict(text="hello"),
    "text-many-lines": dict(text=PROSE),
    "text-blank-lines-at-end": dict(text="hello\n\n\n"),
    "html": dict(html="<p>hello</p>"),
    "text-and-html": dict(text=PROSE, html="<p>" + PROSE.replace("\n", "<br>\n") + "</p>"),
    "non-ascii-text": dict(text=UMLAUTS),
    "non-ascii-html": dict(text="x", html="<p>" + UMLAUTS + "</p>"),
    "emoji": dict(text="👍 ok 日本語\n" * 5),
    "long-line": dict(text="word " * 300),
    "long-word": dict(text="x" * 1000 + "\n"),
    "long-non-ascii-line": dict(text="é" * 500),
    "line-of-78": dict(text="a" * 78 + "\n" + "b" * 78),
    "line-of-79": dict(text="a" * 79),
    "crlf-cr-and-lf": dict(text="one\r\ntwo\nthree\rfour\r\n\r\nfive"),
    "trailing-white-space": dict(text="é trailing space \ntab\t\nend  "),
    "trailing-white-space-7bit": dict(text="space \ntab\t\n"),
    "equals-dots-and-from": dict(text="a=b\n.\nFrom here\n=3D\n" + "=" * 100 + "\n"),
    "control-characters": dict(text="form\x0cfeed\x1b escape é\n"),
    "looks-like-a-boundary": dict(text="--=_abc\n--===============1234==\n--\n", html="<p>--=_x</p>"),
    "inline-with-content-id": dict(text="see", html='<img src="cid:logo@example.org">', inline_files=[LOGO]),
    "inline-with-text-only": dict(text="see", inline_files=[LOGO]),
    "alternative-calendar": dict(text="invite", html="<p>invite</p>", alternative_files=[CALENDAR]),
    "alternative-with-text-only": dict(text="invite", alternative_files=[CALENDAR]),
    "alternative-with-html-only": dict(html="<p>invite</p>", alternative_files=[CALENDAR]),
    "alternative-file-alone": dict(alternative_files=[CALENDAR]),
    "everything": dict(text=UMLAUTS, html="<p>rich</p>", alternative_files=[CALENDAR], inline_files=[LOGO],
                       attached_files=[PDF, Attachment(BINARY, "data.bin")]),
    "attachment-100k": dict(text=PROSE, attached_files=[Attachment(BINARY, "random.bin")]),
    "attachment-sizes": dict(text="x", attached_files=[Attachment(BINARY[:n], f"{n}.bin") for n in
                                                       (0, 1, 2, 3, 56, 57, 58, 114)]),
    "attachment-detected-type": dict(text="x", attached_files=[Attachment(LOGO.data), Attachment(b"plain text\n"),
                                                               Attachment(b"\x00\x01binary")]),
    "non-ascii-names": dict(text="x", attached_files=[Attachment(b"a", "Grüße café.txt"), Attachment(b"b", "日本語.pdf"),
                                                      Attachment(b"c", "emoji 👍.png")]),
    "long-names": dict(text="x", attached_files=[Attachment(b"a", "a" * 200 + ".txt"),
                                                 Attachment(b"b", "ü" * 150 + ".txt"),
                                                 Attachment(b"c", "mixed ü " * 40 + ".txt"),
                                                 Attachment(b"d", "n" * 60 + ".txt")]),
    "names-with-specials": dict(text="x", attached_files=[Attachment(b"a", 'say "hi".txt'),
                                                          Attachment(b"b", "back\\slash.txt"),
                                                          Attachment(b"c", "semi;colon=equals (paren).txt"),
                                                          Attachment(b"d", "50% off*.txt"),
                                                          Attachment(b"e", "it's.txt"),
                                                          Attachment(b"f", "tab\there.txt")]),
    "content-type-parameters": dict(text="x", attached_files=[
        Attachment(b"a", "a.txt", "Text/Plain; Charset=UTF-8; format=flowed; delsp=yes"),
        Attachment(b"b", "b.bin", 'application/x-thing; name="with space"; note="a \\"quoted\\" word"'),
        Attachment(b"c", "c.bin", "application/x-thing; title*=utf-8''Gr%C3%BC%C3%9Fe"),
        Attachment(b"d", "d.bin", "application/x-thing; long=\"" + "v" * 150 + '"'),
        Attachment(b"e", "e.bin", "application/x-thing; a*0=one; a*1=two"),
        Attachment(b"f", "f.bin", "application/x-thing;"),
        Attachment(b"g", "g.bin", "application/x-thing; (a comment) b=c"),
        Attachment(b"h", "h.bin", "application/x-thing; dup=first; dup=second"),
        Attachment(b"i", "i.bin", 'application/x-thing; dup="first"; dup=second'),
    ]),
    "message-rfc822": dict(text="forwarded", attached_files=[
        Attachment(b"From: a@example.org\r\nSubject: inner\r\n\r\ninner body\r\n", "m.eml", "message/rfc822")]),
    "many-files": dict(text="x", inline_files=[Attachment(b"i%d" % i, f"i{i}.png", "image/png", f"<i{i}@x>")
                                               for i in range(5)],
                       attached_files=[Attachment(b"a%d" % i, f"a{i}.txt") for i in range(5)]),
}

UTF8_SENDER = ("Jöhn", parse_address("jöhn@example.org"))
UTF8_DRAFTS = {
    "smtputf8-text": dict(text=UMLAUTS),
    "smtputf8-files": dict(text="x", html="<p>y</p>", inline_files=[LOGO],
                           attached_files=[Attachment(b"a", "Grüße.txt"), Attachment(b"b", "ü" * 100 + ".txt")]),
}


def draft(sender=SENDER, **kw) -> Draft:
    return Draft(sender=sender, to=[BOB], **kw)


def tree(part) -> dict:
    """What a recipient's parser makes of a part: its MIME fields and its decoded content or parts."""
    node = {
        "type": part.get_content_type(),
        "params": _params(part, "Content-Type", drop="boundary"),
        "transfer-encoding": (part["Content-Transfer-Encoding"] or "").lower(),
        "disposition": part.get_content_disposition(),
        "disposition-params": _params(part, "Content-Disposition"),
        "filename": part.get_filename(),
        "content-id": part["Content-ID"],
        "defects": [type(d).__name__ for d in part.defects],
    }
    if part.is_multipart():
        node["parts"] = [tree(p) for p in part.iter_parts()]
    else:
        node["content"] = part.get_payload(decode=True)
    return node


def _params(part, name: str, drop: str = "") -> dict:
    header = part[name]
    return {k: v for k, v in header.params.items() if k != drop} if header is not None else {}


def new_and_old(d: Draft) -> tuple[bytes, bytes]:
    """The composed message and the same message with the reference body."""
    composed = composelib.compose(d)
    head, mime_version, _ = composed.data.partition(b"MIME-Version: 1.0\r\n")
    assert mime_version
    reference = old_body(d, composed.smtputf8)
    # The email package ended the base64 of a message/rfc822 part with a bare LF; lines end in CRLF
    # (RFC 5322 2.3), so the reference is taken with that put right.
    reference = re.sub(rb"(?<!\r)\n", b"\r\n", reference)
    return composed.data, head + mime_version + reference


def parsed(data: bytes):
    return email.message_from_bytes(data, policy=policy.default)


def longest_body_line(data: bytes) -> int:
    return max(len(line) for line in data.split(b"\r\n\r\n", 1)[1].split(b"\r\n"))


CASES = [pytest.param(SENDER, kw, id=name) for name, kw in DRAFTS.items()] + [
    pytest.param(UTF8_SENDER, kw, id=name) for name, kw in UTF8_DRAFTS.items()]


@pytest.mark.parametrize("sender,kw", CASES)
def test_same_tree_as_the_email_package_made(sender, kw):
    new, old = new_and_old(draft(sender, **kw))
    assert tree(parsed(new)) == tree(parsed(old))


@pytest.mark.parametrize("sender,kw", CASES)
def test_lines_are_short_where_they_were(sender, kw):
    new, old = new_and_old(draft(sender, **kw))
    if longest_body_line(old) <= 78:
        assert longest_body_line(new) <= 78


@pytest.mark.parametrize("sender,kw", CASES)
def test_wire_format(sender, kw):
    new, _ = new_and_old(draft(sender, **kw))
    assert new.replace(b"\r\n", b"").count(b"\n") == 0  # CRLF line ends only
    assert new.replace(b"\r\n", b"").count(b"\r") == 0
    assert new.endswith(b"\r\n")
    if sender is SENDER:
        assert new.isascii()  # part headers too: RFC 2231 for file names, never raw UTF-8


@pytest.mark.parametrize("kw", [DRAFTS["text"], DRAFTS["everything"]], ids=["text", "everything"])
def test_composing_again_gives_the_same_tree(kw):
    # Only the boundaries differ.
    d = draft(**kw)
    first, second = composelib.compose(d).data, composelib.compose(d).data
    assert tree(parsed(first)) == tree(parsed(second))

"""The MIME part tree (message/part.py) and the index summary (message/parse.py)
over arbitrary bytes and mutated real messages: they never raise (part.py
promises a usable tree for any input), and every part's offsets lie within
the message and within its parent's body."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from moxpy.message import compose as composelib
from moxpy.message import parse as msgparse
from moxpy.message import part as partlib
from moxpy.message.address import parse_address


def _samples() -> list[bytes]:
    def draft(**kw):
        return composelib.Draft(sender=("Mox", parse_address("mox@localhost")),
                                to=[("Ünïcödé", parse_address("a@example.org"))], subject="Grüße", **kw)

    nested = composelib.compose(draft(
        text="plain\n", html="<p>html</p>\n",
        inline_files=[composelib.Attachment(b"\x89PNG\r\n\x1a\nxx", "logo.png", content_id="<logo@x>")],
        attached_files=[composelib.Attachment(b"%PDF-1.4 x", "r.pdf"),
                        composelib.Attachment(b"From: a@b\r\nSubject: inner\r\n\r\ninner body\r\n", "m.eml",
                                              "message/rfc822")])).data
    simple = composelib.compose(draft(text="line one\nline two é\n")).data
    dsn = (b"From: <postmaster@x>\r\nTo: <a@x>\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"\r\n\r\n"
           b"--b1\r\nContent-Type: text/plain\r\n\r\nfailed\r\n"
           b"--b1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n\r\n"
           b"--b1\r\nContent-Type: message/rfc822\r\n\r\nFrom: a@x\r\nSubject: orig\r\n\r\nhi\r\n--b1--\r\n")
    return [nested, simple, dsn]


SAMPLES = _samples()


def check_tree(data: bytes, part: partlib.Part, lo: int, hi: int, depth: int = 0) -> None:
    assert lo <= part.header_start <= part.body_start <= part.end <= hi, (part.header_start, part.body_start,
                                                                          part.end, lo, hi)
    assert depth <= partlib.MAX_DEPTH + 2
    for child in part.parts:
        check_tree(data, child, part.body_start, part.end, depth + 1)
    if part.message is not None:
        check_tree(data, part.message, part.body_start, part.end, depth + 1)
    msgparse.part_body(data, part)  # serving any part's body works too


def check(data: bytes) -> None:
    root = partlib.parse(data)
    check_tree(data, root, 0, len(data))
    assert partlib.decode(partlib.encode(root)) == root  # as the store keeps it
    msgparse.summary(data)


@given(st.binary(max_size=4096))
def test_arbitrary_bytes(data):
    check(data)


_MIME_BITS = [b"\r\n", b"\n", b"--", b"--b1", b"--b1--", b"boundary=", b"Content-Type: multipart/mixed; boundary=b1",
              b"Content-Type: message/rfc822", b"\r\n\r\n", b":", b"=?utf-8?b?", b"?=", b"\"", b";", b"\x00", b"\xff"]


@st.composite
def mutated(draw):
    data = bytearray(draw(st.sampled_from(SAMPLES)))
    for _ in range(draw(st.integers(1, 8))):
        pos = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["insert", "delete", "replace", "truncate"]))
        piece = draw(st.one_of(st.sampled_from(_MIME_BITS), st.binary(min_size=1, max_size=16)))
        if kind == "insert":
            data[pos:pos] = piece
        elif kind == "delete":
            del data[pos:pos + draw(st.integers(1, 64))]
        elif kind == "replace":
            data[pos:pos + len(piece)] = piece
        else:
            del data[pos:]
    return bytes(data)


@given(mutated())
def test_mutated_messages(data):
    check(data)


def test_samples_parse_into_nested_trees():
    # The mutations start from real structure: multipart inside multipart, and an encapsulated message.
    root = partlib.parse(SAMPLES[0])
    assert root.multipart and any(p.multipart for p in root.parts)
    assert any(p.message is not None for p in root.parts)
    for data in SAMPLES:
        check(data)

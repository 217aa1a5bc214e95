"""The MIME tree with byte offsets: every part's header and body found in the exact bytes, as IMAP
FETCH BODY[n] and MessagePartGet serve them, plus the BODYSTRUCTURE fields and the ENVELOPE."""

import pytest

from moxpy.message import part as partlib
from moxpy.message.part import EnvelopeAddress


def header_of(data: bytes, p: partlib.Part) -> bytes:
    return data[p.header_start:p.body_start]


def body_of(data: bytes, p: partlib.Part) -> bytes:
    return data[p.body_start:p.end]


def kinds(p: partlib.Part):
    """The tree as content types: a str per leaf, (type, [children]) per multipart or message/rfc822."""
    name = f"{p.media_type}/{p.subtype}"
    if p.parts:
        return (name, [kinds(c) for c in p.parts])
    if p.message is not None:
        return (name, [kinds(p.message)])
    return name


SINGLE = (
    b"From: Alice <alice@example.org>\r\n"
    b"To: bob@example.com\r\n"
    b"Subject: hello\r\n"
    b"Content-Type: text/plain; charset=UTF-8; format=flowed\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"line one\r\n"
    b"line two\r\n"
)


def test_single_part_header_and_body_offsets():
    p = partlib.parse(SINGLE)
    assert p.header_start == 0
    assert header_of(SINGLE, p) == SINGLE[:SINGLE.index(b"\r\n\r\n") + 4]
    assert header_of(SINGLE, p).endswith(b"quoted-printable\r\n\r\n")
    assert body_of(SINGLE, p) == b"line one\r\nline two\r\n"
    assert p.end == len(SINGLE)


def test_single_part_bodystructure_fields():
    p = partlib.parse(SINGLE)
    assert (p.media_type, p.subtype) == ("text", "plain")
    assert p.params == [("charset", "UTF-8"), ("format", "flowed")]
    assert p.encoding == "QUOTED-PRINTABLE"
    assert p.size == 20
    assert p.lines == 2
    assert p.parts == []
    assert p.message is None
    assert not p.multipart


def test_last_body_line_without_line_break_still_counts():
    data = b"Subject: x\r\n\r\none\r\ntwo"
    p = partlib.parse(data)
    assert body_of(data, p) == b"one\r\ntwo"
    assert p.lines == 2
    assert p.size == 8


def test_message_without_content_type_is_7bit_text_plain():
    data = b"Subject: x\r\n\r\nhi\r\n"
    p = partlib.parse(data)
    assert (p.media_type, p.subtype, p.params, p.encoding) == ("text", "plain", [], "7BIT")


def test_all_header_message_has_empty_body_at_its_end():
    data = b"Subject: only a header\r\n"
    p = partlib.parse(data)
    assert (p.body_start, p.end, p.size, p.lines) == (len(data), len(data), 0, 0)
    assert p.envelope.subject == "only a header"


MIXED = (
    b"From: alice@example.org\r\n"
    b"Subject: report\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
    b"\r\n"
    b"This is the preamble.\r\n"
    b"--outer\r\n"
    b"Content-Type: multipart/alternative; boundary=inner\r\n"
    b"\r\n"
    b"--inner\r\n"
    b"Content-Type: text/plain; charset=us-ascii\r\n"
    b"\r\n"
    b"plain one\r\n"
    b"plain two\r\n"
    b"--inner\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n"
    b"<p>html</p>\r\n"
    b"--inner--\r\n"
    b"\r\n"
    b"--outer\r\n"
    b"Content-Type: application/pdf; name=\"report.pdf\"\r\n"
    b"Content-Disposition: Attachment; filename=\"report.pdf\"; size=5\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"Content-ID: <pdf@example.org>\r\n"
    b"Content-Description: the report\r\n"
    b"\r\n"
    b"JVBERi0=\r\n"
    b"--outer--\r\n"
    b"This is the epilogue.\r\n"
)


def test_mixed_tree_content_types():
    assert kinds(partlib.parse(MIXED)) == (
        "multipart/mixed", [("multipart/alternative", ["text/plain", "text/html"]), "application/pdf"])


def test_mixed_top_level_body_includes_preamble_and_epilogue():
    root = partlib.parse(MIXED)
    assert header_of(MIXED, root).endswith(b"boundary=\"outer\"\r\n\r\n")
    assert body_of(MIXED, root).startswith(b"This is the preamble.\r\n--outer\r\n")
    assert body_of(MIXED, root).endswith(b"--outer--\r\nThis is the epilogue.\r\n")
    assert root.params == [("boundary", "outer")]
    assert root.multipart
    assert root.lines == 0  # only text and message parts count lines


def test_mixed_nested_alternative_offsets():
    alternative = partlib.parse(MIXED).parts[0]
    assert header_of(MIXED, alternative) == b"Content-Type: multipart/alternative; boundary=inner\r\n\r\n"
    # The line break before "--outer" belongs to the delimiter; the empty line after "--inner--" is the
    # inner multipart's epilogue, so the part keeps one CRLF after its close delimiter.
    assert body_of(MIXED, alternative) == (
        b"--inner\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nplain one\r\nplain two\r\n"
        b"--inner\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        b"<p>html</p>\r\n--inner--\r\n")


def test_mixed_text_leaves_exclude_the_line_break_before_the_delimiter():
    plain, html = partlib.parse(MIXED).parts[0].parts
    assert header_of(MIXED, plain) == b"Content-Type: text/plain; charset=us-ascii\r\n\r\n"
    assert body_of(MIXED, plain) == b"plain one\r\nplain two"
    assert (plain.size, plain.lines) == (20, 2)
    assert header_of(MIXED, html) == b"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    assert body_of(MIXED, html) == b"<p>html</p>"
    assert (html.size, html.lines, html.encoding) == (11, 1, "8BIT")


def test_mixed_attachment_fields():
    pdf = partlib.parse(MIXED).parts[1]
    assert body_of(MIXED, pdf) == b"JVBERi0="
    assert header_of(MIXED, pdf).startswith(b"Content-Type: application/pdf;")
    assert pdf.params == [("name", "report.pdf")]
    assert pdf.disposition == "attachment"  # lower case
    assert pdf.disposition_params == [("filename", "report.pdf"), ("size", "5")]
    assert pdf.encoding == "BASE64"
    assert pdf.content_id == "<pdf@example.org>"
    assert pdf.description == "the report"
    assert pdf.lines == 0  # not text
    assert pdf.size == 8


def test_only_the_top_level_has_an_envelope():
    root = partlib.parse(MIXED)
    assert root.envelope is not None and root.envelope.subject == "report"
    assert root.parts[0].envelope is None
    assert root.parts[1].envelope is None


INNER = (
    b"From: \"Bob B\" <bob@example.com>\r\n"
    b"Subject: inner\r\n"
    b"  subject\r\n"
    b"Message-ID: <m1@example.com>\r\n"
    b"In-Reply-To: <m0@example.com>\r\n"
    b"Content-Type: text/plain\r\n"
    b"\r\n"
    b"inner body\r\n"
    b"second line\r\n"
)
FORWARD = (
    b"Subject: fwd\r\n"
    b"Content-Type: multipart/mixed; boundary=x\r\n"
    b"\r\n"
    b"--x\r\n"
    b"\r\n"
    b"see attached\r\n"
    b"--x\r\n"
    b"Content-Type: message/rfc822\r\n"
    b"\r\n"
    + INNER +
    b"\r\n"
    b"--x--\r\n"
)


def test_attached_message_tree():
    assert kinds(partlib.parse(FORWARD)) == (
        "multipart/mixed", ["text/plain", ("message/rfc822", ["text/plain"])])


def test_attached_message_offsets():
    rfc822 = partlib.parse(FORWARD).parts[1]
    assert header_of(FORWARD, rfc822) == b"Content-Type: message/rfc822\r\n\r\n"
    assert body_of(FORWARD, rfc822) == INNER  # the CRLF before "--x--" belongs to the delimiter
    inner = rfc822.message
    assert inner.header_start == rfc822.body_start
    assert header_of(FORWARD, inner) == INNER[:INNER.index(b"\r\n\r\n") + 4]
    assert body_of(FORWARD, inner) == b"inner body\r\nsecond line\r\n"
    assert inner.end == rfc822.end


def test_attached_message_sizes_and_lines():
    rfc822 = partlib.parse(FORWARD).parts[1]
    assert rfc822.size == len(INNER)
    assert rfc822.lines == INNER.count(b"\n") == 9  # the whole encapsulated message
    assert rfc822.message.lines == 2


def test_attached_message_has_its_own_envelope():
    rfc822 = partlib.parse(FORWARD).parts[1]
    assert rfc822.envelope is None
    env = rfc822.message.envelope
    assert env.subject == "inner  subject"  # unfolded: only the line break goes
    assert env.from_ == [EnvelopeAddress("Bob B", "bob", "example.com")]
    assert env.message_id == "<m1@example.com>"
    assert env.in_reply_to == "<m0@example.com>"


def test_part_without_header_is_text_plain_with_empty_header():
    first = partlib.parse(FORWARD).parts[0]
    assert header_of(FORWARD, first) == b"\r\n"
    assert body_of(FORWARD, first) == b"see attached"
    assert (first.media_type, first.subtype, first.params) == ("text", "plain", [])
    assert first.lines == 1


def test_message_without_header_at_all():
    data = b"\r\njust a body\r\n"
    p = partlib.parse(data)
    assert (p.header_start, p.body_start) == (0, 2)
    assert body_of(data, p) == b"just a body\r\n"
    assert (p.media_type, p.subtype) == ("text", "plain")
    assert p.envelope == partlib.Envelope()


BARE_LF = (
    b"Subject: lf\n"
    b"Content-Type: multipart/alternative; boundary=\"b b\"\n"
    b"\n"
    b"--b b\n"
    b"Content-Type: text/plain\n"
    b"\n"
    b"one\n"
    b"two\n"
    b"--b b\n"
    b"Content-Type: text/html\n"
    b"\n"
    b"<p>one</p>\n"
    b"--b b--\n"
)


def test_bare_lf_line_ends():
    root = partlib.parse(BARE_LF)
    assert kinds(root) == ("multipart/alternative", ["text/plain", "text/html"])
    assert root.params == [("boundary", "b b")]
    assert header_of(BARE_LF, root) == b"Subject: lf\nContent-Type: multipart/alternative; boundary=\"b b\"\n\n"
    plain, html = root.parts
    assert header_of(BARE_LF, plain) == b"Content-Type: text/plain\n\n"
    assert body_of(BARE_LF, plain) == b"one\ntwo"
    assert plain.lines == 2
    assert header_of(BARE_LF, html) == b"Content-Type: text/html\n\n"
    assert body_of(BARE_LF, html) == b"<p>one</p>"


def test_missing_close_delimiter_last_part_runs_to_the_end():
    data = (b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
            b"--b\r\nContent-Type: text/plain\r\n\r\nfirst\r\n"
            b"--b\r\nContent-Type: text/html\r\n\r\n<p>cut off\r\n")
    root = partlib.parse(data)
    assert kinds(root) == ("multipart/mixed", ["text/plain", "text/html"])
    assert body_of(data, root.parts[0]) == b"first"
    assert body_of(data, root.parts[1]) == b"<p>cut off\r\n"
    assert root.parts[1].end == len(data)
    assert root.parts[1].lines == 1


def test_close_delimiter_with_trailing_whitespace_ends_the_multipart():
    data = (b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
            b"--b\r\n\r\none\r\n--b--  \r\n--b\r\n\r\nnot a part\r\n")
    root = partlib.parse(data)
    assert len(root.parts) == 1
    assert body_of(data, root.parts[0]) == b"one"


def test_boundary_text_inside_a_line_or_as_longer_word_is_no_delimiter():
    data = (b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
            b"--b\r\n\r\nsee --b here\r\n--bb\r\n--b-x\r\n--b--\r\n")
    root = partlib.parse(data)
    assert len(root.parts) == 1
    assert body_of(data, root.parts[0]) == b"see --b here\r\n--bb\r\n--b-x"
    assert root.parts[0].lines == 3


def test_empty_part_between_delimiters():
    data = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n--b\r\n\r\nx\r\n--b--\r\n"
    root = partlib.parse(data)
    assert len(root.parts) == 2
    empty = root.parts[0]
    assert empty.header_start == empty.body_start == empty.end == data.index(b"--b\r\n\r\nx")
    assert (empty.size, empty.lines) == (0, 0)
    assert body_of(data, root.parts[1]) == b"x"


@pytest.mark.parametrize("content_type", [
    b"multipart/mixed; boundary=b",  # a boundary that never occurs
    b"multipart/mixed",  # no boundary at all
])
def test_unusable_multipart_is_shown_as_text(content_type):
    data = b"Content-Type: " + content_type + b"\r\n\r\n--other\r\n\r\nbody\r\n"
    p = partlib.parse(data)
    assert (p.media_type, p.subtype, p.params, p.parts) == ("text", "plain", [], [])
    assert body_of(data, p) == b"--other\r\n\r\nbody\r\n"
    assert p.lines == 3


def test_digest_parts_default_to_message_rfc822():
    data = (b"Content-Type: multipart/digest; boundary=d\r\n\r\n"
            b"--d\r\n\r\nSubject: first\r\n\r\nbody one\r\n"
            b"--d\r\nContent-Type: text/plain\r\n\r\nnot a message\r\n--d--\r\n")
    root = partlib.parse(data)
    assert kinds(root) == ("multipart/digest", [("message/rfc822", ["text/plain"]), "text/plain"])
    digested = root.parts[0].message
    assert digested.envelope.subject == "first"
    assert body_of(data, digested) == b"body one"


def nested(depth: int, leaf: bytes = b"Content-Type: text/plain\r\n\r\nleaf\r\n") -> bytes:
    """A message of depth multiparts, each holding the next, the innermost holding leaf."""
    data = leaf
    for i in reversed(range(depth)):
        b = b"b%d" % i
        data = b"Content-Type: multipart/mixed; boundary=" + b + b"\r\n\r\n--" + b + b"\r\n" + data + b"\r\n--" + b + b"--\r\n"
    return data


def innermost(p: partlib.Part) -> tuple[partlib.Part, int]:
    depth = 0
    while p.parts:
        p, depth = p.parts[0], depth + 1
    return p, depth


def test_nesting_up_to_max_depth_is_parsed():
    data = nested(partlib.MAX_DEPTH - 1)
    leaf, depth = innermost(partlib.parse(data))
    assert depth == partlib.MAX_DEPTH - 1
    assert (leaf.media_type, leaf.subtype) == ("text", "plain")
    assert body_of(data, leaf) == b"leaf\r\n"
    assert leaf.lines == 1


def test_nesting_beyond_max_depth_is_an_opaque_leaf():
    data = nested(partlib.MAX_DEPTH + 5)
    leaf, depth = innermost(partlib.parse(data))
    assert depth == partlib.MAX_DEPTH
    assert (leaf.media_type, leaf.subtype, leaf.parts) == ("multipart", "mixed", [])
    assert leaf.params == [("boundary", "b%d" % partlib.MAX_DEPTH)]
    body = body_of(data, leaf)
    assert body.startswith(b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n" % (partlib.MAX_DEPTH, partlib.MAX_DEPTH + 1))
    assert body.endswith(b"\r\n--b%d--\r\n" % partlib.MAX_DEPTH)


def test_text_leaf_at_max_depth_counts_its_lines():
    data = nested(partlib.MAX_DEPTH)
    leaf, depth = innermost(partlib.parse(data))
    assert depth == partlib.MAX_DEPTH
    assert body_of(data, leaf) == b"leaf\r\n"
    assert leaf.lines == 1


def test_params_rfc2231_lower_case_names_and_utf8_headers():
    data = ("Content-Type: Text/PLAIN; CharSet=utf-8; Name=\"a b.txt\"\r\n"
            "Content-Disposition: INLINE; filename*=utf-8''na%C3%AFve%20file.txt\r\n"
            "Content-Language: en\r\n"
            "Content-Location: http://example.org/a\r\n"
            "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n"
            "Subject: café\r\n"
            "\r\nx").encode("utf-8")
    p = partlib.parse(data)
    assert (p.media_type, p.subtype) == ("text", "plain")
    assert p.params == [("charset", "utf-8"), ("name", "a b.txt")]
    assert p.disposition == "inline"
    assert p.disposition_params == [("filename", "naïve file.txt")]
    assert (p.language, p.location, p.md5) == ("en", "http://example.org/a", "Q2hlY2sgSW50ZWdyaXR5IQ==")
    assert p.envelope.subject == "café"  # 8-bit header bytes read as UTF-8


def envelope_of(header: str) -> partlib.Envelope:
    return partlib.parse(header.encode("utf-8") + b"\r\n\r\n").envelope


def test_envelope_group_is_marked_by_name_and_end():
    env = envelope_of("To: group: a@b.example, c@d.example;")
    assert env.to == [
        EnvelopeAddress("", "group", ""),
        EnvelopeAddress("", "a", "b.example"),
        EnvelopeAddress("", "c", "d.example"),
        EnvelopeAddress("", "", ""),
    ]


def test_envelope_empty_group():
    env = envelope_of("To: undisclosed-recipients:;")
    assert env.to == [EnvelopeAddress("", "undisclosed-recipients", ""), EnvelopeAddress("", "", "")]


def test_envelope_mailboxes_around_a_group_keep_their_order():
    env = envelope_of('Cc: x@y.example, "The Team": "Ann A" <ann@example.org>;, z@w.example')
    assert env.cc == [
        EnvelopeAddress("", "x", "y.example"),
        EnvelopeAddress("", "The Team", ""),
        EnvelopeAddress("Ann A", "ann", "example.org"),
        EnvelopeAddress("", "", ""),
        EnvelopeAddress("", "z", "w.example"),
    ]


def test_envelope_sender_and_reply_to_default_to_from():
    env = envelope_of("From: Alice <alice@example.org>\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000")
    alice = [EnvelopeAddress("Alice", "alice", "example.org")]
    assert env.from_ == env.sender == env.reply_to == alice
    assert env.date == "Mon, 1 Jan 2024 10:00:00 +0000"
    assert (env.to, env.cc, env.bcc) == ([], [], [])


def test_envelope_explicit_sender_reply_to_and_bcc():
    env = envelope_of("From: alice@example.org\r\nSender: list@example.org\r\nReply-To: replies@example.org\r\n"
                      "Bcc: hidden@example.net")
    assert env.from_ == [EnvelopeAddress("", "alice", "example.org")]
    assert env.sender == [EnvelopeAddress("", "list", "example.org")]
    assert env.reply_to == [EnvelopeAddress("", "replies", "example.org")]
    assert env.bcc == [EnvelopeAddress("", "hidden", "example.net")]


def test_envelope_keeps_encoded_words_and_address_without_domain():
    env = envelope_of("Subject: =?utf-8?q?caf=C3=A9?=\r\nTo: =?utf-8?q?Zo=C3=AB?= <zoe@example.org>, postmaster")
    assert env.subject == "=?utf-8?q?caf=C3=A9?="
    assert env.to == [EnvelopeAddress("=?utf-8?q?Zo=C3=AB?=", "zoe", "example.org"),
                      EnvelopeAddress("", "postmaster", "")]


def test_envelope_repeated_address_header_lists_all_values():
    env = envelope_of("To: a@example.org\r\nTo: b@example.org")
    assert env.to == [EnvelopeAddress("", "a", "example.org"), EnvelopeAddress("", "b", "example.org")]


@pytest.mark.parametrize("data", [SINGLE, MIXED, FORWARD, BARE_LF], ids=["single", "mixed", "forward", "bare-lf"])
def test_encode_decode_round_trip(data):
    p = partlib.parse(data)
    encoded = partlib.encode(p)
    assert isinstance(encoded, bytes)
    decoded = partlib.decode(encoded)
    assert decoded == p
    assert kinds(decoded) == kinds(p)
    assert [body_of(data, c) for c in decoded.parts] == [body_of(data, c) for c in p.parts]


def test_round_trip_keeps_the_attached_message_and_its_envelope():
    decoded = partlib.decode(partlib.encode(partlib.parse(FORWARD)))
    inner = decoded.parts[1].message
    assert body_of(FORWARD, inner) == b"inner body\r\nsecond line\r\n"
    assert inner.envelope.from_ == [EnvelopeAddress("Bob B", "bob", "example.com")]
    assert decoded.parts[1].envelope is None


def test_find_by_imap_section_path():
    root = partlib.parse(MIXED)
    assert partlib.find(root, []) is root
    assert body_of(MIXED, partlib.find(root, [1, 1])) == b"plain one\r\nplain two"
    assert body_of(MIXED, partlib.find(root, [1, 2])) == b"<p>html</p>"
    assert body_of(MIXED, partlib.find(root, [2])) == b"JVBERi0="
    assert partlib.find(root, [3]) is None
    assert partlib.find(root, [0]) is None
    assert partlib.find(root, [1, 3]) is None
    assert partlib.find(root, [2, 1]) is partlib.find(root, [2])  # a leaf is its own part 1
    assert partlib.find(root, [2, 2]) is None


def test_find_single_part_message_is_part_one():
    root = partlib.parse(SINGLE)
    assert partlib.find(root, [1]) is root
    assert partlib.find(root, [2]) is None


def test_find_descends_into_attached_message():
    root = partlib.parse(FORWARD)
    rfc822 = partlib.find(root, [2])
    assert (rfc822.media_type, rfc822.subtype) == ("message", "rfc822")
    assert partlib.find(root, [2, 1]) is rfc822.message  # its non-multipart body is 2.1
    assert body_of(FORWARD, partlib.find(root, [2, 1])) == b"inner body\r\nsecond line\r\n"
    assert partlib.find(root, [2, 2]) is None

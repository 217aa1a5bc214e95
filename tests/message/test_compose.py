"""Composing a message for the webapi's Send: the MIME layout recipients see, the wire format
(CRLF, short lines, encoded headers) and the header fields Send relies on."""

import email
import email.header
import email.utils
import re
from datetime import datetime, timedelta, timezone
from email import policy

import pytest

from moxpy.message import compose as composelib
from moxpy.message.address import parse_address
from moxpy.message.compose import Attachment, ComposeError

SENDER = ("Alice", parse_address("alice@example.org"))
BOB = ("Bob", parse_address("bob@example.com"))
DATE = datetime(2024, 3, 4, 5, 6, 7, tzinfo=timezone.utc)

CALENDAR = Attachment(b"BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n", "invite.ics",
                      "text/calendar; method=REQUEST")
LOGO = Attachment(b"\x89PNG\r\n\x1a\n-logo-", "logo.png", content_id="<logo@example.org>")
PDF = Attachment(b"%PDF-1.4 report", "report.pdf")


def compose(**kw) -> composelib.Composed:
    kw.setdefault("sender", SENDER)
    kw.setdefault("to", [BOB])
    kw.setdefault("date", DATE)
    return composelib.compose(composelib.Draft(**kw))


def parsed(data: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(data, policy=policy.default)


def layout(msg):
    """The tree as content types: a str per leaf, (type, [children]) per multipart."""
    if msg.is_multipart():
        return (msg.get_content_type(), [layout(p) for p in msg.iter_parts()])
    return msg.get_content_type()


def content(part) -> str:
    """A text part's decoded content with its CRLF line ends as LF."""
    return part.get_content().replace("\r\n", "\n")


def header_lines(data: bytes) -> list[bytes]:
    return data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")


def test_text_only_is_a_single_text_plain_part():
    msg = parsed(compose(text="hello\n").data)
    assert layout(msg) == "text/plain"
    assert content(msg) == "hello\n"
    assert msg.get_content_charset() == "us-ascii"
    assert msg["Content-Transfer-Encoding"] == "7bit"
    assert msg["MIME-Version"] == "1.0"


def test_html_only_is_a_single_text_html_part():
    msg = parsed(compose(html="<p>hello</p>").data)
    assert layout(msg) == "text/html"
    assert content(msg) == "<p>hello</p>\n"


def test_text_and_html_make_alternative_text_first():
    msg = parsed(compose(text="plain", html="<p>rich</p>").data)
    assert layout(msg) == ("multipart/alternative", ["text/plain", "text/html"])
    plain, html = msg.iter_parts()
    assert content(plain) == "plain\n"
    assert content(html) == "<p>rich</p>\n"


def test_inline_files_wrap_the_alternative_in_related():
    msg = parsed(compose(text="plain", html='<img src="cid:logo@example.org">', inline_files=[LOGO]).data)
    assert layout(msg) == ("multipart/related", [("multipart/alternative", ["text/plain", "text/html"]), "image/png"])
    logo = list(msg.iter_parts())[1]
    assert logo.get_content_disposition() == "inline"
    assert logo.get_filename() == "logo.png"
    assert logo["Content-ID"] == "<logo@example.org>"
    assert logo["Content-Transfer-Encoding"] == "base64"
    assert logo.get_content() == LOGO.data


def test_inline_files_with_text_only_wrap_the_text_in_related():
    msg = parsed(compose(text="plain", inline_files=[LOGO]).data)
    assert layout(msg) == ("multipart/related", ["text/plain", "image/png"])


def test_attachments_wrap_everything_in_mixed():
    msg = parsed(compose(text="plain", html="<p>rich</p>", alternative_files=[CALENDAR], inline_files=[LOGO],
                         attached_files=[PDF]).data)
    assert layout(msg) == ("multipart/mixed", [
        ("multipart/related", [
            ("multipart/alternative", ["text/plain", "text/html", "text/calendar"]),
            "image/png"]),
        "application/pdf"])


def test_attachments_with_text_only_make_mixed_around_the_text():
    msg = parsed(compose(text="plain", attached_files=[PDF, LOGO]).data)
    assert layout(msg) == ("multipart/mixed", ["text/plain", "application/pdf", "image/png"])
    pdf, logo = list(msg.iter_parts())[1:]
    assert pdf.get_content_disposition() == "attachment"
    assert pdf.get_filename() == "report.pdf"
    assert pdf.get_content() == PDF.data
    assert logo.get_content_disposition() == "attachment"  # the same file is inline only when sent as inline


def test_alternative_file_joins_the_alternative_keeping_parameters_and_inline():
    msg = parsed(compose(text="plain", html="<p>rich</p>", alternative_files=[CALENDAR]).data)
    assert layout(msg) == ("multipart/alternative", ["text/plain", "text/html", "text/calendar"])
    calendar = list(msg.iter_parts())[2]
    assert calendar.get_param("method") == "REQUEST"
    assert calendar.get_content_disposition() == "inline"
    assert calendar.get_filename() == "invite.ics"
    assert calendar.get_payload(decode=True) == CALENDAR.data


def test_alternative_file_with_text_only_makes_an_alternative():
    msg = parsed(compose(text="plain", alternative_files=[CALENDAR]).data)
    assert layout(msg) == ("multipart/alternative", ["text/plain", "text/calendar"])


def test_file_content_type_parameters_are_kept():
    f = Attachment("Grüße\n".encode(), "notes.txt", "Text/Plain; Charset=UTF-8; format=flowed")
    part = list(parsed(compose(text="x", attached_files=[f]).data).iter_parts())[1]
    assert part.get_content_type() == "text/plain"
    assert part.get_param("charset") == "UTF-8"
    assert part.get_param("format") == "flowed"
    assert part.get_payload(decode=True) == f.data


@pytest.mark.parametrize("data,name,expected", [
    (b"anything", "report.pdf", "application/pdf"),  # the name decides first
    (b"\x89PNG\r\n\x1a\nrest", "", "image/png"),
    (b"\xff\xd8\xff\xe0", "", "image/jpeg"),
    (b"%PDF-1.7", "", "application/pdf"),
    (b"  <!DOCTYPE html><html>", "", "text/html"),
    (b"just some text\r\n", "", "text/plain"),
    (b"\x00\x01\x02binary", "", "application/octet-stream"),
])
def test_detect_content_type(data, name, expected):
    assert composelib.detect_content_type(data, name) == expected


def test_attachment_without_type_gets_the_detected_one():
    unnamed_png = Attachment(LOGO.data)
    part = list(parsed(compose(text="x", attached_files=[unnamed_png]).data).iter_parts())[1]
    assert part.get_content_type() == "image/png"
    assert part.get_filename() is None


def test_non_ascii_file_name_is_encoded_and_decodes_back():
    f = Attachment(b"data", "Grüße café.txt")
    data = compose(text="x", attached_files=[f]).data
    assert data.isascii()
    assert b"filename*=utf-8''Gr%C3%BC%C3%9Fe%20caf%C3%A9.txt" in data
    assert list(parsed(data).iter_parts())[1].get_filename() == "Grüße café.txt"


def test_every_line_ends_in_crlf():
    data = compose(text="one\ntwo\r\nthree", html="<p>a</p>\n<p>b</p>", attached_files=[PDF], bcc=[BOB]).data
    assert b"\r\n" in data
    assert data.replace(b"\r\n", b"").count(b"\n") == 0
    assert data.replace(b"\r\n", b"").count(b"\r") == 0
    assert data.endswith(b"\r\n")


def test_text_line_ends_are_normalised_in_the_content():
    msg = parsed(compose(text="one\r\ntwo\nthree").data)
    assert content(msg) == "one\ntwo\nthree\n"


def test_long_text_is_quoted_printable_with_short_lines():
    text = "word " * 100 + "\n" + "x" * 300 + "\n"
    data = compose(text=text).data
    msg = parsed(data)
    assert msg["Content-Transfer-Encoding"] == "quoted-printable"
    assert max(len(line) for line in data.split(b"\r\n")) <= 78
    assert content(msg) == text


def test_long_html_line_is_quoted_printable_too():
    html = "<p>" + "lorem ipsum " * 40 + "</p>"
    data = compose(text="short", html=html).data
    assert max(len(line) for line in data.split(b"\r\n")) <= 78
    html_part = list(parsed(data).iter_parts())[1]
    assert html_part["Content-Transfer-Encoding"] == "quoted-printable"
    assert content(html_part) == html + "\n"


def test_line_of_78_characters_stays_7bit_and_79_does_not():
    assert parsed(compose(text="a" * 78).data)["Content-Transfer-Encoding"] == "7bit"
    assert parsed(compose(text="a" * 79).data)["Content-Transfer-Encoding"] == "quoted-printable"


def test_non_ascii_text_is_utf8_quoted_printable():
    text = "Grüße aus Köln\n"
    data = compose(text=text).data
    msg = parsed(data)
    assert data.isascii()
    assert msg.get_content_charset() == "utf-8"
    assert msg["Content-Transfer-Encoding"] == "quoted-printable"
    assert b"Gr=C3=BC=C3=9Fe aus K=C3=B6ln" in data
    assert content(msg) == text


def test_long_headers_fold_within_78_characters():
    many = [(f"Recipient Number {i}", parse_address(f"recipient{i}@example.com")) for i in range(8)]
    subject = ("a rather long subject " * 6).strip()
    data = compose(to=many, text="x", subject=subject,
                   references=[f"<{i}-{'r' * 30}@example.org>" for i in range(4)]).data
    assert max(len(line) for line in header_lines(data)) <= 78
    msg = parsed(data)
    assert [a.addr_spec for a in msg["To"].addresses] == [f"recipient{i}@example.com" for i in range(8)]
    assert msg["Subject"] == subject


def test_utf8_subject_is_rfc2047_encoded():
    subject = "Grüße aus Köln – a subject long enough to need more than one encoded word to fit"
    data = compose(text="x", subject=subject).data
    lines = header_lines(data)
    start = next(i for i, line in enumerate(lines) if line.startswith(b"Subject: "))
    raw = [lines[start]] + [line for line in lines[start + 1:] if line[:1] in (b" ", b"\t")]
    assert all(line.isascii() and len(line) <= 78 for line in raw)
    assert b"=?utf-8?" in raw[0]
    value = b"\r\n".join(raw).decode()[len("Subject: "):]
    assert str(email.header.make_header(email.header.decode_header(value))) == subject
    assert parsed(data)["Subject"] == subject


def test_utf8_display_name_is_encoded_and_idn_domain_in_ascii():
    data = compose(sender=("Jürgen", parse_address("j@example.org")), to=[("", parse_address("bob@bücher.example"))],
                   text="x").data
    assert data.isascii()
    msg = parsed(data)
    assert msg["From"].addresses[0].display_name == "Jürgen"
    assert msg["To"].addresses[0].addr_spec == "bob@xn--bcher-kva.example"


def test_non_ascii_localpart_needs_smtputf8_and_keeps_utf8_headers():
    composed = compose(sender=("", parse_address("jöhn@example.org")), to=[("", parse_address("bob@bücher.example"))],
                       text="x", subject="Grüße")
    assert composed.smtputf8
    lines = header_lines(composed.data)
    assert "From: jöhn@example.org".encode() in lines
    assert "To: bob@bücher.example".encode() in lines
    assert "Subject: Grüße".encode() in lines


def test_ascii_addresses_do_not_need_smtputf8():
    assert not compose(text="x", subject="Grüße").smtputf8


def test_bcc_only_in_the_sent_copy():
    secret = ("Secret", parse_address("secret@example.net"))
    composed = compose(text="x", bcc=[secret])
    assert b"secret@example.net" not in composed.data
    assert not any(line.lower().startswith(b"bcc:") for line in header_lines(composed.data))
    assert composed.sent_copy == b"Bcc: Secret <secret@example.net>\r\n" + composed.data
    assert parsed(composed.sent_copy)["Bcc"] == "Secret <secret@example.net>"


def test_without_bcc_the_sent_copy_is_the_message():
    composed = compose(text="x", cc=[("", parse_address("carol@example.com"))])
    assert composed.sent_copy == composed.data
    assert parsed(composed.data)["Cc"] == "carol@example.com"


def test_address_headers():
    msg = parsed(compose(text="x", to=[BOB, ("", parse_address("dave@example.com"))],
                         reply_to=[("Replies", parse_address("replies@example.org"))]).data)
    assert msg["From"] == "Alice <alice@example.org>"
    assert msg["To"] == "Bob <bob@example.com>, dave@example.com"
    assert msg["Reply-To"] == "Replies <replies@example.org>"
    assert msg["Cc"] is None


def test_message_id_generated_when_empty():
    first = compose(text="x", hostname="mail.example.org")
    second = compose(text="x", hostname="mail.example.org")
    assert re.fullmatch(r"<[A-Za-z0-9_-]{16,}@mail\.example\.org>", first.message_id)
    assert parsed(first.data)["Message-ID"] == first.message_id
    assert first.message_id != second.message_id


def test_message_id_kept_when_given():
    composed = compose(text="x", message_id="<given@example.org>")
    assert composed.message_id == "<given@example.org>"
    assert parsed(composed.data)["Message-ID"] == "<given@example.org>"
    assert composed.data.count(b"Message-Id:") == 1


def test_in_reply_to_is_the_last_reference():
    msg = parsed(compose(text="x", references=["<a@example.org>", "<b@example.org>", "<c@example.org>"]).data)
    assert msg["In-Reply-To"] == "<c@example.org>"
    assert msg["References"] == "<a@example.org> <b@example.org> <c@example.org>"


def test_without_references_no_in_reply_to():
    msg = parsed(compose(text="x").data)
    assert msg["In-Reply-To"] is None
    assert msg["References"] is None


def test_date_is_the_given_date():
    msg = parsed(compose(text="x").data)
    assert msg["Date"] == "Mon, 04 Mar 2024 05:06:07 +0000"


def test_date_defaults_to_now():
    msg = parsed(compose(text="x", date=None).data)
    sent = email.utils.parsedate_to_datetime(msg["Date"])
    assert abs(sent - datetime.now(timezone.utc)) < timedelta(minutes=5)


def test_user_agent_added_by_default():
    assert parsed(compose(text="x").data).get_all("User-Agent") == ["moxpy"]
    assert parsed(compose(text="x", user_agent="Client/2").data).get_all("User-Agent") == ["Client/2"]


@pytest.mark.parametrize("name", ["User-Agent", "user-agent", "X-Mailer"])
def test_user_agent_not_added_when_the_caller_sets_one(name):
    msg = parsed(compose(text="x", headers=[(name, "Mine/1.0")]).data)
    assert msg.get_all(name) == ["Mine/1.0"]
    if name.lower() == "x-mailer":
        assert msg.get_all("User-Agent") is None
    else:
        assert msg.get_all("User-Agent") == ["Mine/1.0"]


def test_extra_headers_come_after_the_standard_ones_before_the_mime_headers():
    data = compose(text="x", headers=[("TLS-Required", "No"), ("X-Custom", "value")]).data
    names = [line.split(b":", 1)[0] for line in header_lines(data) if line[:1] not in (b" ", b"\t")]
    assert names == [b"From", b"To", b"Message-Id", b"Date", b"TLS-Required", b"X-Custom", b"User-Agent",
                     b"MIME-Version", b"Content-Type", b"Content-Transfer-Encoding"]


@pytest.mark.parametrize("kw,message", [
    (dict(subject="hi\r\nBcc: victim@example.net"), "control character in subject"),
    (dict(headers=[("X-Bad", "a\nb")]), "control character in X-Bad"),
    (dict(headers=[("Bad Name", "x")]), "invalid header name 'Bad Name'"),
    (dict(headers=[("X:Colon", "x")]), "invalid header name 'X:Colon'"),
    (dict(references=["<a@example.org>\r\nX: y"]), "control character in references"),
    (dict(message_id="<a@example.org>\n"), "control character in message-id"),
    (dict(attached_files=[Attachment(b"x", "x", "bogus")]), "invalid content type 'bogus'"),
    (dict(attached_files=[Attachment(b"x", "a\r\nb.txt")]), "control character in file name"),
])
def test_header_injection_and_bad_input_are_refused(kw, message):
    with pytest.raises(ComposeError) as e:
        compose(text="x", **kw)
    assert str(e.value) == message


def body_lines(data: bytes) -> list[bytes]:
    return data.split(b"\r\n\r\n", 1)[1].split(b"\r\n")


def test_quoted_printable_lines_are_at_most_76_characters():
    # RFC 2045 6.7 (5): encoded lines of at most 76 characters, soft breaks included.
    data = compose(text="é" * 300 + "\n" + "x" * 500 + "\n" + "word " * 100).data
    assert max(len(line) for line in body_lines(data)) <= 76
    assert content(parsed(data)) == "é" * 300 + "\n" + "x" * 500 + "\n" + "word " * 100 + "\n"


@pytest.mark.parametrize("width", [72, 73, 74, 75, 76])
@pytest.mark.parametrize("space", [" ", "\t", "  "])
def test_white_space_before_a_line_break_keeps_lines_at_76(width, space):
    # The encoded white space ("=20", "=09") at the end of a line of 73 to 75 characters would make it
    # 77 or 78: it goes after a soft line break instead.
    text = "x" * width + space + "\né\n"
    data = compose(text=text).data
    assert max(len(line) for line in body_lines(data)) <= 76
    assert content(parsed(data)) == text


@pytest.mark.parametrize("text", [
    "é" * 1_000_000,  # one line across several pieces
    ("a line with a space at the end \n" + "x" * 75 + " \n" + "Grüße\t\n") * 20_000,
    "y" * (composelib._QP_PIECE - 1) + " \n" + "é" * 100,  # a piece ending at white space
], ids=["one-long-line", "many-lines", "piece-boundary"])
def test_large_text_is_quoted_printable_in_pieces_that_join_up(text):
    data = compose(text=text).data
    assert len(data) > composelib._QP_PIECE
    assert max(len(line) for line in body_lines(data)) <= 76
    assert content(parsed(data)) == (text if text.endswith("\n") else text + "\n")


def test_base64_lines_are_76_characters():
    # RFC 2045 6.8: encoded lines of at most 76 characters.
    data = bytes(range(256)) * 10
    part = list(parsed(compose(text="x", attached_files=[Attachment(data, "d.bin")]).data).iter_parts())[1]
    lines = part.get_payload().rstrip("\r\n").split("\r\n")
    assert {len(line) for line in lines[:-1]} == {76}
    assert part.get_content() == data


def test_text_with_nul_is_quoted_printable():
    # RFC 2045 2.7: 7bit data has no NUL octets.
    msg = parsed(compose(text="a\x00b\n").data)
    assert msg["Content-Transfer-Encoding"] == "quoted-printable"
    assert content(msg) == "a\x00b\n"


def test_lone_cr_is_a_line_break():
    data = compose(text="one\rtwo").data
    assert data.endswith(b"\r\n\r\none\r\ntwo\r\n")


def test_boundary_is_not_in_the_content(monkeypatch):
    # RFC 2046 5.1.1: a boundary that occurs in a part's content is not used.
    tokens = iter(["taken", "free"])
    monkeypatch.setattr(composelib.secrets, "token_urlsafe", lambda n: next(tokens))
    data = compose(text="the line\n--=_taken\nis in the text", html="<p>x</p>").data
    assert b'boundary="=_free"' in data
    msg = parsed(data)
    assert layout(msg) == ("multipart/alternative", ["text/plain", "text/html"])
    assert content(list(msg.iter_parts())[0]) == "the line\n--=_taken\nis in the text\n"


def test_boundaries_differ_per_multipart_and_message():
    data = compose(text="x", inline_files=[LOGO], attached_files=[PDF]).data
    boundaries = re.findall(rb'boundary="([^"]+)"', data)
    assert len(boundaries) == 2 and len(set(boundaries)) == 2
    assert all(len(b) <= 70 for b in boundaries)  # RFC 2046 5.1.1
    assert re.findall(rb'boundary="([^"]+)"', compose(text="x", attached_files=[PDF]).data)[0] not in boundaries


def test_files_without_text_are_the_multipart_alone():
    # As mox makes it: no empty part before the files.
    msg = parsed(compose(inline_files=[LOGO]).data)
    assert layout(msg) == ("multipart/related", ["image/png"])
    msg = parsed(compose(attached_files=[PDF]).data)
    assert layout(msg) == ("multipart/mixed", ["application/pdf"])
    msg = parsed(compose(inline_files=[LOGO], attached_files=[PDF]).data)
    assert layout(msg) == ("multipart/mixed", [("multipart/related", ["image/png"]), "application/pdf"])


def test_empty_draft_has_an_empty_body():
    data = compose().data
    assert data.endswith(b"MIME-Version: 1.0\r\n\r\n")
    assert layout(parsed(data)) == "text/plain"


def test_long_file_name_is_written_in_rfc2231_sections():
    name = "Grüße " * 40 + "end.txt"
    data = compose(text="x", attached_files=[Attachment(b"data", name)]).data
    assert max(len(line) for line in data.split(b"\r\n")) <= 78
    assert b"filename*0*=utf-8''Gr%C3%BC%C3%9Fe" in data
    assert list(parsed(data).iter_parts())[1].get_filename() == name


def test_non_ascii_content_id_needs_smtputf8():
    f = Attachment(LOGO.data, "logo.png", content_id="<lögo@example.org>")
    with pytest.raises(ComposeError) as e:
        compose(text="x", inline_files=[f])
    assert str(e.value) == "content id '<lögo@example.org>' is not ASCII"
    composed = compose(sender=("", parse_address("jöhn@example.org")), text="x", inline_files=[f])
    assert "Content-ID: <lögo@example.org>\r\n".encode() in composed.data


@pytest.mark.parametrize("f,words", [
    (Attachment(b"x", "x", "text/pl ain"), "invalid content type 'text/pl ain'"),
    (Attachment(b"x", "x", "text/plain@x"), "invalid content type 'text/plain@x'"),
    (Attachment(b"x", "x", "text/" + "p" * 128), "invalid content type 'text/pppp"),
    (Attachment(b"x", "x", "text/plain; ü=1"), "invalid parameter name 'ü' in content type"),
    (Attachment(b"x", "x", "text/plain; " + "n" * 128 + "=1"), "invalid parameter name 'nnnn"),
    (Attachment(b"x", "x", content_id="<" + "c" * 1000 + "@x>"), "content id '<cccc"),
])
def test_bad_part_values_are_refused(f, words):
    with pytest.raises(ComposeError) as e:
        compose(text="x", attached_files=[f])
    assert str(e.value).startswith(words)
    assert len(str(e.value)) < 200


@pytest.mark.parametrize("kw", [dict(text="a\ud800b"), dict(html="\udc80"), dict(subject="é\ud800"),
                                dict(attached_files=[Attachment(b"x", "a\ud800.txt")])])
def test_lone_surrogates_are_refused(kw):
    kw.setdefault("text", "x")
    with pytest.raises(ComposeError) as e:
        compose(**kw)
    assert str(e.value).startswith("composing message: ")

"""The readable content of a message from its part tree: which parts, their
decoded text, HTML made text, previews, attachments, and cutting text at a
byte size."""

from moxpy.message import part as partlib
from moxpy.message import readable


def texts(data: bytes) -> tuple[str, str]:
    return readable.texts(data, partlib.parse(data))


ALTERNATIVE = (b"Content-Type: multipart/mixed; boundary=m\r\n\r\n--m\r\n"
               b"Content-Type: multipart/alternative; boundary=a\r\n\r\n--a\r\n"
               b"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
               b"caf=E9\r\n--a\r\nContent-Type: text/html\r\n\r\n<p>caf\xc3\xa9</p>\r\n--a--\r\n"
               b"--m\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=notes.txt\r\n\r\n"
               b"not the body\r\n--m--\r\n")


def test_text_and_html_of_an_alternative_decoded():
    assert texts(ALTERNATIVE) == ("café", "<p>café</p>")


def test_a_text_attachment_is_not_the_body_and_is_an_attachment():
    root = partlib.parse(ALTERNATIVE)
    assert readable.has_attachments(root)
    assert not readable.has_attachments(partlib.parse(b"Subject: x\r\n\r\nhello\r\n"))


def test_inline_images_are_not_attachments():
    related = (b"Content-Type: multipart/related; boundary=r\r\n\r\n--r\r\nContent-Type: text/html\r\n\r\n"
               b"<img src=cid:x>\r\n--r\r\nContent-Type: image/png\r\nContent-ID: <x>\r\n\r\npng\r\n--r--\r\n")
    assert not readable.has_attachments(partlib.parse(related))
    forwarded = (b"Content-Type: multipart/mixed; boundary=f\r\n\r\n--f\r\nContent-Type: text/plain\r\n\r\nsee below"
                 b"\r\n--f\r\nContent-Type: message/rfc822\r\n\r\nSubject: old\r\n\r\nold\r\n--f--\r\n")
    assert readable.has_attachments(partlib.parse(forwarded))


def test_html_made_text_leaves_out_scripts_and_styles():
    html = ("<html><head><title>T</title><style>p{}</style></head><body><h1>News</h1><p>one&amp;two</p>"
            "<script>alert(1)</script><ul><li>a</li><li>b</li></ul></body></html>")
    assert readable.html_text(html) == "News\n\none&two\n\na\n\nb"
    assert readable.html_text("<p>unclosed <b>tags") == "unclosed tags"


def test_preview_collapses_whitespace_and_stops_at_200_characters():
    assert readable.preview("  a\n\n b\tc ", "") == "a b c"
    assert readable.preview("", "<p>from <i>html</i></p>") == "from html"
    assert len(readable.preview("word " * 1000, "")) == 200


def test_cut_on_a_character_boundary():
    assert readable.cut("a☺b", 3) == ("a", True)
    assert readable.cut("a☺b", 4) == ("a☺", True)
    assert readable.cut("a☺b", 5) == ("a☺b", False)
    assert readable.cut("", 0) == ("", False)
    assert readable.cut("😀", 3) == ("", True)

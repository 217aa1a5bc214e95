"""Where a header section ends: CRLF and bare LF, all-header messages, parts inside a message."""

import pytest

from moxpy.message import headers


@pytest.mark.parametrize("data,header,body_offset", [
    (b"Subject: a\r\nTo: b@example.org\r\n\r\nbody\r\n", b"Subject: a\r\nTo: b@example.org\r\n", 33),
    (b"Subject: a\nTo: b@example.org\n\nbody\n", b"Subject: a\nTo: b@example.org\n", 30),
    (b"Subject: a\r\n\r\n", b"Subject: a\r\n", 14),  # an empty body
    (b"Subject: a\r\nTo: b@example.org\r\n", b"Subject: a\r\nTo: b@example.org\r\n", 31),  # all header
    (b"Subject: a", b"Subject: a", 10),  # all header, last line unterminated
    (b"\r\nbody\r\n", b"", 2),  # no header fields at all
    (b"\nbody\n", b"", 1),
    (b"", b"", 0),
    # Mixed line ends: the first empty line counts, whichever its kind.
    (b"A: 1\n\nB: 2\r\n\r\nbody", b"A: 1\n", 6),
    (b"A: 1\r\n\r\nB: 2\n\nbody", b"A: 1\r\n", 8),
    (b"A: 1\r\n\nbody", b"A: 1\r\n", 7),  # an empty line that is a bare LF after a CRLF line
    # A folded field continues on the next line; that is no empty line.
    (b"Subject: a\r\n b\r\n\r\nx", b"Subject: a\r\n b\r\n", 18),
])
def test_split(data, header, body_offset):
    assert headers.split(data) == (header, body_offset)
    if body_offset < len(data):
        assert data[body_offset:] in (b"body\r\n", b"body\n", b"x", b"B: 2\r\n\r\nbody", b"B: 2\n\nbody", b"body")


def test_split_within_a_range():
    # A MIME part inside a message: offsets stay those of the whole message.
    data = b"--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b--\r\n"
    start, end = 5, data.index(b"\r\n--b--")
    header, body_offset = headers.split(data, start, end)
    assert header == b"Content-Type: text/plain\r\n"
    assert data[body_offset:end] == b"hello"
    # The range's end bounds the search: a part without empty line is all header.
    assert headers.split(b"A: 1\r\nB: 2\r\n\r\n", 0, 10) == (b"A: 1\r\nB: 2", 10)


def test_parse_reads_fields_of_a_section():
    msg = headers.parse(headers.split(b"Subject: hi\r\nX-A: 1\r\n\r\nX-B: body\r\n")[0])
    assert msg["Subject"] == "hi" and msg["X-A"] == "1" and msg["X-B"] is None

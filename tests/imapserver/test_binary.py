"""BINARY (RFC 3516) with a raw client: FETCH BINARY[part] decodes base64
and quoted-printable, BINARY.PEEK and partials, BINARY.SIZE, a literal8
for content with NUL, UNKNOWN-CTE, and bad items answered BAD."""

import base64

import pytest

from ..imapclient import Raw

PAYLOAD = bytes(range(256)) * 4  # NUL and every other octet
# The part ends before the line break ahead of the boundary (RFC 2046 5.1.1); the soft break is undone.
QP_TEXT = "caf\u00e9 = na\u00efve end".encode()

MESSAGE = (
    b"From: a@example.org\r\n"
    b"Subject: binary\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=\"b\"\r\n"
    b"\r\n"
    b"--b\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"caf=C3=A9 =3D na=C3=AFve=\r\n"
    b" end\r\n"
    b"--b\r\n"
    b"Content-Type: application/octet-stream\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    + base64.encodebytes(PAYLOAD).replace(b"\n", b"\r\n") +
    b"--b\r\n"
    b"Content-Type: application/x-thing\r\n"
    b"Content-Transfer-Encoding: x-uuencode\r\n"
    b"\r\n"
    b"begin 644 x\r\n"
    b"--b\r\n"
    b"Content-Type: message/rfc822\r\n"
    b"\r\n"
    b"Subject: inner\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    b"aW5uZXI=\r\n"
    b"--b--\r\n"
)

SINGLE = (b"Subject: single\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
          b"aGVsbG8gd29ybGQ=\r\n")


@pytest.fixture(scope="module")
def raw(server):
    client = Raw(server.ports["IMAP"])
    client.login()
    client.command(b"CREATE BIN")
    for data in (MESSAGE, SINGLE):
        _, tagged = client.command(b"APPEND BIN {%d+}\r\n%s" % (len(data), data))
        assert b" OK " in tagged, tagged
    client.command(b"SELECT BIN")
    yield client
    client.close()


def fetch(raw: Raw, items: bytes, seq: bytes = b"1") -> bytes:
    untagged, tagged = raw.command(b"FETCH " + seq + b" " + items)
    assert b" OK " in tagged, tagged
    assert len(untagged) == 1, untagged
    return untagged[0]


def test_capability(raw):
    untagged, _ = raw.command(b"CAPABILITY")
    assert b"BINARY" in untagged[0].split()


def test_base64_part_decoded_in_literal8(raw):
    line = fetch(raw, b"(BINARY.PEEK[2])")
    head = b"* 1 FETCH (BINARY[2] ~{%d}\r\n" % len(PAYLOAD)
    assert line == head + PAYLOAD + b")"


def test_quoted_printable_part(raw):
    line = fetch(raw, b"(BINARY.PEEK[1])")
    text = QP_TEXT
    assert line == b"* 1 FETCH (BINARY[1] {%d}\r\n" % len(text) + text + b")"


def test_size_and_partial(raw):
    assert fetch(raw, b"(BINARY.SIZE[2] BINARY.SIZE[1])") == b"* 1 FETCH (BINARY.SIZE[2] %d BINARY.SIZE[1] %d)" % (
        len(PAYLOAD), len(QP_TEXT))
    line = fetch(raw, b"(BINARY.PEEK[2]<250.10>)")
    assert line == b"* 1 FETCH (BINARY[2] ~{10}\r\n" + PAYLOAD[250:260] + b")"  # holds a NUL
    # Mixed with other items, in the order asked.
    line = fetch(raw, b"(UID BINARY.SIZE[2] BODY.PEEK[HEADER.FIELDS (SUBJECT)] FLAGS)")
    assert line.startswith(b"* 1 FETCH (UID 1 BINARY.SIZE[2] 1024 BODY[HEADER.FIELDS (SUBJECT)] {19}\r\n")
    assert line.endswith(b"FLAGS (\\Recent))")


def test_whole_single_part_message(raw):
    line = fetch(raw, b"(BINARY.PEEK[] BINARY.SIZE[])", b"2")
    expected = b"Subject: single\r\nContent-Type: text/plain\r\n\r\nhello world"
    assert line == b"* 2 FETCH (BINARY[] {%d}\r\n" % len(expected) + expected + b" BINARY.SIZE[] %d)" % len(expected)
    line = fetch(raw, b"(BINARY.PEEK[1])", b"2")
    assert line == b"* 2 FETCH (BINARY[1] {11}\r\nhello world)"


def test_binary_without_peek_sets_seen(raw):
    line = fetch(raw, b"(BINARY[1])", b"2")
    assert b"FLAGS (\\Seen \\Recent)" in line
    raw.command(b"STORE 2 -FLAGS.SILENT (\\Seen)")


def test_unknown_encoding(raw):
    _, tagged = raw.command(b"FETCH 1 (BINARY.PEEK[3])")
    assert b" NO [UNKNOWN-CTE] " in tagged, tagged
    # A part of an encapsulated message decodes too.
    assert fetch(raw, b"(BINARY.PEEK[4.1])") == b"* 1 FETCH (BINARY[4.1] {5}\r\ninner)"


def test_not_a_leaf(raw):
    _, tagged = raw.command(b"FETCH 1 (BINARY.PEEK[4])")
    assert tagged.split()[1] == b"NO", tagged


@pytest.mark.parametrize("items", [b"(BINARY[x])", b"(BINARY.SIZE[1]<0.5>)", b"(BINARY.FOO[1])", b"BINARY[1",
                                   b"(BINARY[0])", b"(BINARY[1] BOGUS)"])
def test_bad_items(raw, items):
    _, tagged = raw.command(b"FETCH 1 " + items)
    assert tagged.split()[1] == b"BAD", tagged
    _, tagged = raw.command(b"NOOP")
    assert b" OK " in tagged

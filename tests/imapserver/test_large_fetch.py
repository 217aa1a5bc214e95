"""FETCH of large messages, on SQLite and on PostgreSQL, with imaplib against a real localserve: partial
fetches (RFC 3501 6.4.5) at the start, in the middle, across a stored chunk's boundary and beyond the end
are the slices of the stored message; BODY[], RFC822, BODY[TEXT], a part, BINARY and HEADER.FIELDS of a
message of megabytes are its octets exactly, among small messages in the same FETCH; and the server's memory
stays far below the size of a 50 MB message it sends."""

import base64
import imaplib
import re
import socket
import time

import pytest

from moxpy.store.pg.contents import CHUNK

from ..localserve import ADDRESS, PASSWORD, LocalServer, storage_configure


def text_lines(size: int, mark: bytes) -> bytes:
    """size octets of numbered CRLF lines, ending with a line break."""
    lines = b"".join(mark + b" %08d " % i + b"y" * 60 + b"\r\n" for i in range(size // 80 + 1))
    return lines[:size - 2] + b"\r\n"


LARGE_HEADER = b"From: a@example.org\r\nTo: mox@localhost\r\nSubject: large text\r\n\r\n"
LARGE = LARGE_HEADER + text_lines(5 * 1024 * 1024, b"L")

PLAIN = text_lines(2 * 1024 * 1024, b"P")
PAYLOAD = bytes(range(256)) * 8192  # 2 MiB, with NUL
ENCODED = base64.encodebytes(PAYLOAD).replace(b"\n", b"\r\n")
PART2_HEADER = b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
MULTI = (b"From: b@example.org\r\nSubject: large multipart\r\nMIME-Version: 1.0\r\n"
         b"Content-Type: multipart/mixed; boundary=\"sep\"\r\n\r\n"
         b"--sep\r\nContent-Type: text/plain\r\n\r\nsmall first part\r\n"
         b"--sep\r\n" + PART2_HEADER + PLAIN +
         b"\r\n--sep\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
         ENCODED + b"\r\n--sep--\r\n")
SMALL = b"Subject: small\r\n\r\nsmall body\r\n"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def large_server(request, tmp_path_factory):
    """A server on each storage backend."""
    configure = storage_configure(request.param, request)
    server = LocalServer(str(tmp_path_factory.mktemp("largefetch")), configure).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def imap(large_server):
    """An IMAP session with mailbox Large selected holding a small message, the large one, another small
    one and the large multipart (sequence numbers 1 to 4)."""
    client = imaplib.IMAP4("127.0.0.1", large_server.ports["IMAP"])
    client.login(ADDRESS, PASSWORD)
    client.create("Large")
    for data in (SMALL, LARGE, SMALL, MULTI):
        typ, answer = client.append("Large", None, None, data)
        assert typ == "OK", answer
    client.select("Large")
    yield client
    client.logout()


def fetch_one(client: imaplib.IMAP4, seq: str, item: str) -> bytes:
    typ, data = client.fetch(seq, f"({item})")
    assert typ == "OK", data
    literals = [d[1] for d in data if isinstance(d, tuple)]
    assert len(literals) == 1, data
    return literals[0]


@pytest.mark.parametrize("origin,count", [(0, 1000), (2 * 1024 * 1024 + 7, 100000), (CHUNK - 100, 300),
                                          (3 * CHUNK - 1, 2), (len(LARGE) - 10, 100), (len(LARGE) + 5, 10)])
def test_partial_fetch_of_a_large_message_is_the_slice_of_the_stored_message(imap, origin, count):
    assert fetch_one(imap, "2", f"BODY.PEEK[]<{origin}.{count}>") == LARGE[origin:origin + count]
    assert fetch_one(imap, "2", f"BINARY.PEEK[]<{origin}.{count}>") == LARGE[origin:origin + count]


def test_partial_fetch_names_its_origin(imap):
    typ, data = imap.fetch("2", "(BODY.PEEK[]<100.5000000>)")
    assert typ == "OK"
    assert re.match(rb"2 \(BODY\[\]<100> \{%d\}" % (len(LARGE) - 100), data[0][0]), data[0][0]
    assert data[0][1] == LARGE[100:]


def test_body_and_rfc822_of_a_large_message_are_its_octets(imap):
    assert fetch_one(imap, "2", "BODY.PEEK[]") == LARGE
    assert fetch_one(imap, "4", "BODY.PEEK[]") == MULTI
    typ, data = imap.fetch("2", "(RFC822.SIZE RFC822)")
    assert typ == "OK"
    assert data[0][0].startswith(b"2 (RFC822.SIZE %d RFC822 {%d}" % (len(LARGE), len(LARGE))), data[0][0]
    assert data[0][1] == LARGE


def test_sections_of_a_large_message_are_read_from_its_parts(imap):
    assert fetch_one(imap, "2", "BODY.PEEK[TEXT]") == LARGE[len(LARGE_HEADER):]
    assert fetch_one(imap, "2", "BODY.PEEK[HEADER]") == LARGE_HEADER
    assert fetch_one(imap, "4", "BODY.PEEK[2]") == PLAIN
    assert fetch_one(imap, "4", "BODY.PEEK[2.MIME]") == PART2_HEADER
    assert fetch_one(imap, "4", "BODY.PEEK[2]<1000.50>") == PLAIN[1000:1050]
    assert fetch_one(imap, "4", "BINARY.PEEK[2]") == PLAIN
    assert fetch_one(imap, "4", "BODY.PEEK[1]") == b"small first part"
    # Values that are not slices of the message: decoded, filtered.
    assert fetch_one(imap, "4", "BINARY.PEEK[3]") == PAYLOAD
    assert fetch_one(imap, "4", "BINARY.PEEK[3]<10.20>") == PAYLOAD[10:30]
    assert fetch_one(imap, "4", "BODY.PEEK[HEADER.FIELDS (SUBJECT)]") == b"Subject: large multipart\r\n\r\n"


def test_large_and_small_messages_in_one_fetch_come_in_order(imap):
    typ, data = imap.fetch("1:4", "(UID BODY.PEEK[TEXT] BODY.PEEK[]<0.30>)")
    assert typ == "OK", data
    literals = [d[1] for d in data if isinstance(d, tuple)]
    expected = []
    for message in (SMALL, LARGE, SMALL, MULTI):
        body = message.index(b"\r\n\r\n") + 4
        expected += [message[body:], message[:30]]
    assert literals == expected


def test_fetching_a_large_message_without_peek_sets_seen_and_reports_flags(imap):
    imap.store("2", "-FLAGS.SILENT", "(\\Seen)")
    typ, data = imap.fetch("2", "(BODY[]<0.20>)")
    assert typ == "OK", data
    assert data[0][1] == LARGE[:20]
    assert b"\\Seen" in data[1], data
    typ, data = imap.fetch("2", "(FLAGS)")
    assert b"\\Seen" in data[0]


def test_a_large_message_expunged_while_it_is_sent_completes_or_closes_the_connection(large_server):
    """On SQLite the open file stays readable and the literal completes; on PostgreSQL the rows go with the
    message, and the response begun is cut short: the connection closes, nothing else is sent in the
    literal's place. Either way the server goes on serving, without a traceback."""
    data = LARGE_HEADER + text_lines(16 * 1024 * 1024, b"G")
    other = imaplib.IMAP4("127.0.0.1", large_server.ports["IMAP"])
    other.login(ADDRESS, PASSWORD)
    other.create("Gone")
    assert other.append("Gone", None, None, data)[0] == "OK"
    other.select("Gone")
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)  # the server waits for this slow client
        s.settimeout(30)
        s.connect(("127.0.0.1", large_server.ports["IMAP"]))
        s.sendall(b"a LOGIN %s %s\r\nb SELECT Gone\r\nc FETCH 1 (BODY.PEEK[])\r\n" % (ADDRESS.encode(),
                                                                                         PASSWORD.encode()))
        received = b""
        while b"{%d}\r\n" % len(data) not in received:
            received += s.recv(65536)
        time.sleep(0.3)
        other.store("1", "+FLAGS.SILENT", "(\\Deleted)")
        assert other.expunge()[0] == "OK"
        while chunk := s.recv(1 << 20):
            received += chunk
            if received.endswith(b"c OK FETCH completed\r\n"):
                break
    literal = received.split(b"{%d}\r\n" % len(data), 1)[1]
    if large_server.config.Storage == "postgresql":
        assert len(literal) < len(data)
        assert data.startswith(literal)
    else:
        assert literal.startswith(data + b")\r\n")
    assert other.noop()[0] == "OK"
    assert not [line for line in large_server.output if "Traceback" in line], "".join(large_server.output[-40:])
    other.logout()

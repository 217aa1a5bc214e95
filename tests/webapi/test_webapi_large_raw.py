"""MessageRawGet of a message of megabytes, on SQLite and on PostgreSQL, over real HTTP: the answer is the
stored message byte for byte with its Content-Length, sent in parts; a client that goes away in the middle
leaves no open message file and no traceback behind, and the server answers the next call."""

import base64
import glob
import imaplib
import os
import socket
import time
import urllib.parse

import pytest

from ..localserve import ADDRESS, PASSWORD, LocalServer, children, storage_configure

LARGE = b"Subject: large raw\r\nTo: mox@localhost\r\n\r\n" + b"".join(
    b"line %08d " % i + b"z" * 66 + b"\r\n" for i in range(6 * 1024 * 1024 // 80))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def served(request, tmp_path_factory):
    """A server on each backend, and the id of the large message in its Inbox."""
    configure = storage_configure(request.param, request)
    server = LocalServer(str(tmp_path_factory.mktemp("largeraw")), configure).start()
    client = imaplib.IMAP4("127.0.0.1", server.ports["IMAP"])
    client.login(ADDRESS, PASSWORD)
    typ, answer = client.append("Inbox", None, None, LARGE)
    assert typ == "OK", answer
    client.logout()
    (row,) = [r for r in server.messages() if r["size"] == len(LARGE)]
    yield server, row["id"]
    server.stop()


def test_raw_get_of_a_large_message_is_its_octets_with_content_length(served):
    server, msg_id = served
    response = server.call("MessageRawGet", {"MsgID": msg_id})
    assert response.status_code == 200, response.text
    assert response.headers["Content-Length"] == str(len(LARGE))
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content == LARGE


def open_message_files(server) -> list[str]:
    """The files under the data directory's accounts that the server's processes have open."""
    found = []
    for pid in [server.proc.pid] + children(server.proc.pid):
        for fd in glob.glob(f"/proc/{pid}/fd/*"):
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if os.sep + "msg" + os.sep in target:
                found.append(target)
    return found


def slow_raw_get(server, msg_id: int) -> socket.socket:
    """A connection that asked for MessageRawGet of the message and reads slowly (a small receive buffer)."""
    body = urllib.parse.urlencode({"request": '{"MsgID": %d}' % msg_id}).encode()
    credentials = base64.b64encode(f"{ADDRESS}:{PASSWORD}".encode())
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)  # the server has to wait for this client
    s.settimeout(20)
    s.connect(("127.0.0.1", server.ports["WebAPIHTTP"]))
    s.sendall(b"POST /webapi/v0/MessageRawGet HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic " + credentials +
              b"\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n" % len(body) +
              body)
    return s


def test_a_client_leaving_in_the_middle_of_a_large_raw_get_leaves_nothing_behind(served):
    server, msg_id = served
    with slow_raw_get(server, msg_id) as s:
        received = b""
        while len(received) < 100000:
            received += s.recv(65536)
        assert received.startswith(b"HTTP/1.1 200 ")
        assert b"Content-Length: %d\r\n" % len(LARGE) in received
        time.sleep(0.3)  # the server is paused, waiting for the client to read
        if server.config.Storage != "postgresql":
            assert open_message_files(server), "the message is sent from its file, open meanwhile"
    server.wait_for(lambda: not open_message_files(server), 10)
    response = server.call("MessageRawGet", {"MsgID": msg_id})
    assert response.content == LARGE
    assert not [line for line in server.output if "Traceback" in line], "".join(server.output[-40:])


def test_a_large_message_deleted_while_it_is_sent_completes_or_closes_the_connection(served):
    """On SQLite the open file stays readable and the answer completes; on PostgreSQL the rows go with the
    message, and the answer is cut short of its Content-Length: the connection closes."""
    server, _ = served
    data = b"Subject: going\r\n\r\n" + b"".join(b"going %08d " % i + b"g" * 65 + b"\r\n"
                                                 for i in range(16 * 1024 * 1024 // 80))
    client = imaplib.IMAP4("127.0.0.1", server.ports["IMAP"])
    client.login(ADDRESS, PASSWORD)
    assert client.append("Inbox", None, None, data)[0] == "OK"
    client.logout()
    (row,) = [r for r in server.messages() if r["size"] == len(data)]
    with slow_raw_get(server, row["id"]) as s:
        received = b""
        while b"\r\n\r\n" not in received:
            received += s.recv(65536)
        time.sleep(0.3)
        deleted = server.call("MessageDelete", {"MsgID": row["id"]})
        assert deleted.status_code == 200, deleted.text
        # Until the whole answer (the connection is kept open after it) or until the server closes.
        while len(received.split(b"\r\n\r\n", 1)[1]) < len(data) and (chunk := s.recv(1 << 20)):
            received += chunk
    head, body = received.split(b"\r\n\r\n", 1)
    assert b"Content-Length: %d" % len(data) in head
    if server.config.Storage == "postgresql":
        assert len(body) < len(data) and data.startswith(body)
    else:
        assert body == data
    assert server.call("MessageRawGet", {"MsgID": served[1]}).content == LARGE
    assert not [line for line in server.output if "Traceback" in line], "".join(server.output[-40:])

"""The server's memory while it sends a message of 50 MB, on SQLite and on PostgreSQL: over IMAP (FETCH
BODY.PEEK[]) and over the webapi (MessageRawGet) its peak resident size grows by far less than the message,
since the message is read and sent in parts. The message is stored before the server starts, so that
receiving it never raised the peak."""

import asyncio
import socket

import httpx
import pytest

from moxpy.store import backend

from ..localserve import ADDRESS, PASSWORD, LocalServer, storage_configure

SIZE = 50 * 1024 * 1024
# Far below SIZE, above what the server's buffers and a few chunks take.
ALLOWED_GROWTH = 20 * 1024 * 1024


def huge_message() -> bytes:
    line = b"x" * 78 + b"\r\n"
    return b"Subject: huge\r\nTo: mox@localhost\r\n\r\n" + line * (SIZE // len(line))


def peak(pid: int) -> int:
    """The process's peak resident memory so far (VmHWM), in octets."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


async def _deliver(config, data: bytes) -> int:
    store = backend.accounts(config)
    try:
        return (await store.account("mox").deliver(data, "Inbox")).id
    finally:
        store.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def huge(request, tmp_path):
    configure = storage_configure(request.param, request)
    server = LocalServer(str(tmp_path / "ls"), configure)
    data = huge_message()
    msg_id = asyncio.run(_deliver(server.config, data))
    server.start()
    yield server, msg_id, len(data)
    server.stop()


def read_fetch(port: int, items: bytes) -> int:
    """FETCH of message 1 with a plain socket, counting the octets of the answer (not kept)."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        received = 0
        s.sendall(b"a LOGIN %s %s\r\nb SELECT Inbox\r\nc FETCH 1 %s\r\nd LOGOUT\r\n" % (
            ADDRESS.encode(), PASSWORD.encode(), items))
        tail = b""
        while chunk := s.recv(1 << 20):
            received += len(chunk)
            tail = (tail + chunk)[-4096:]
        assert b"c OK" in tail, tail
        return received


@pytest.mark.slow
def test_sending_a_50_mb_message_keeps_the_servers_memory_well_below_its_size(huge):
    server, msg_id, size = huge
    pid = server.proc.pid
    # Logging in (the password's hash) and the first calls take memory of their own: the baseline is after.
    read_fetch(server.ports["IMAP"], b"(UID RFC822.SIZE)")
    with httpx.Client(base_url=server.base_url, auth=(ADDRESS, PASSWORD), timeout=60) as client:
        assert client.post("MailboxList", data={"request": "{}"}).status_code == 200
    before = peak(pid)
    assert read_fetch(server.ports["IMAP"], b"(BODY.PEEK[])") > size
    after_imap = peak(pid)
    received = 0
    with httpx.Client(base_url=server.base_url, auth=(ADDRESS, PASSWORD), timeout=60) as client:
        with client.stream("POST", "MessageRawGet", data={"request": '{"MsgID": %d}' % msg_id}) as response:
            assert response.status_code == 200
            assert response.headers["Content-Length"] == str(size)
            for chunk in response.iter_raw():
                received += len(chunk)
    assert received == size
    after_webapi = peak(pid)
    assert after_imap - before < ALLOWED_GROWTH, (before, after_imap)
    assert after_webapi - before < ALLOWED_GROWTH, (before, after_webapi)

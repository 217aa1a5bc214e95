"""A message whose file is slow to read holds up only the client asking
for it: IMAP FETCH and SEARCH and the webapi's MessageGet read (and parse)
messages in worker threads, so other clients are answered meanwhile.

The slow file is a named pipe standing in for the message's file: reading
it waits until the test writes the message into it."""

from __future__ import annotations

import errno
import os
import threading
import time
from contextlib import contextmanager

import pytest

from .. import storehelp
from ..imapclient import Raw

# timing: dev.py test runs these alone; sqlite_only: the slow file stands in for a message file of the SQLite store.
pytestmark = [pytest.mark.timing, pytest.mark.sqlite_only]

MESSAGE = (b"From: slow@example.org\r\nTo: mox@localhost\r\nSubject: slow to read\r\n\r\n"
           b"a needle in the body\r\n")


def append(server, mailbox: bytes) -> dict:
    """A message appended to a new mailbox, as a storehelp row."""
    raw = Raw(server.ports["IMAP"])
    raw.login()
    for command in (b"CREATE " + mailbox, b"APPEND " + mailbox + b" {%d+}\r\n" % len(MESSAGE) + MESSAGE):
        _, tagged = raw.command(command)
        assert b" OK " in tagged, tagged
    raw.close()
    (row,) = [m for m in server.messages() if m["mailbox"] == mailbox.decode()]
    return row


class SlowFile:
    """A message's file replaced by a named pipe: the server's read of it waits for release()."""

    def __init__(self, path: str, data: bytes):
        self.path = path
        self.data = data
        self.fd: int | None = None
        self.released = False

    def wait_reading(self, timeout: float = 10.0) -> None:
        """Wait until the server has the file open to read (opening the other end succeeds only then)."""
        deadline = time.monotonic() + timeout
        while self.fd is None:
            try:
                self.fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as e:
                assert e.errno == errno.ENXIO, e
                assert time.monotonic() < deadline, "the server did not read the message file"
                time.sleep(0.02)

    def release(self) -> None:
        """Let the read finish: the message's bytes, then the end of the file."""
        if self.released:
            return
        self.released = True
        if self.fd is None:
            try:
                self.wait_reading(timeout=5)
            except AssertionError:
                return
        os.set_blocking(self.fd, True)
        os.write(self.fd, self.data)
        os.close(self.fd)


@contextmanager
def slow_file(server, row: dict):
    """Make the message's file a named pipe for the duration."""
    path = storehelp.message_path(server.config.data_dir(), "mox", row)
    with open(path, "rb") as f:
        data = f.read()
    os.unlink(path)
    os.mkfifo(path)
    slow = SlowFile(path, data)
    try:
        yield slow
    finally:
        slow.release()
        with open(path + ".tmp", "wb") as f:
            f.write(data)
        os.replace(path + ".tmp", path)


def assert_others_answered(server) -> None:
    """Another client logs in and gets NOOP answered, while the slow read waits."""
    other = Raw(server.ports["IMAP"], timeout=5)
    try:
        other.login()
        _, tagged = other.command(b"NOOP")
        assert b" OK " in tagged, tagged
    finally:
        other.close()


def test_fetch_of_slow_file_holds_up_no_one_else(server):
    row = append(server, b"SlowFetch")
    raw = Raw(server.ports["IMAP"])
    raw.login()
    raw.command(b"SELECT SlowFetch")
    with slow_file(server, row) as slow:
        tag = raw.tag()
        raw.send(tag + b" FETCH 1 (UID BODY.PEEK[])\r\n")
        slow.wait_reading()
        assert_others_answered(server)
        slow.release()
        untagged, tagged = raw.until(tag)
    assert b" OK " in tagged, tagged
    assert untagged == [b"* 1 FETCH (UID 1 BODY[] {%d}\r\n" % len(MESSAGE) + MESSAGE + b")"]
    raw.close()


def test_search_of_slow_file_holds_up_no_one_else(server):
    row = append(server, b"SlowSearch")
    raw = Raw(server.ports["IMAP"])
    raw.login()
    raw.command(b"SELECT SlowSearch")
    with slow_file(server, row) as slow:
        tag = raw.tag()
        raw.send(tag + b" SEARCH BODY needle\r\n")
        slow.wait_reading()
        assert_others_answered(server)
        slow.release()
        untagged, tagged = raw.until(tag)
    assert b" OK " in tagged, tagged
    assert untagged == [b"* SEARCH 1"]
    raw.close()


def test_message_get_of_slow_file_holds_up_no_one_else(server):
    row = append(server, b"SlowGet")
    with slow_file(server, row) as slow:
        answers = []
        call = threading.Thread(target=lambda: answers.append(server.call("MessageGet", {"MsgID": row["id"]})))
        call.start()
        try:
            slow.wait_reading()
            assert_others_answered(server)
        finally:
            slow.release()
            call.join(30)
    (response,) = answers
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["Message"]["Subject"] == "slow to read"
    assert result["Message"]["Text"] == "a needle in the body\n"

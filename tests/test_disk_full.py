"""A full disk under the data directory: every listener says storage is full
(a temporary error), logs one line without a traceback, leaves nothing
half-written, and works again once there is room, without a restart.

The server runs on a small tmpfs; mounting one needs root (CI runs as root).
"""

from __future__ import annotations

import errno
import imaplib
import json
import os
import smtplib
import subprocess

import httpx
import pytest

from .heartbeat import Heartbeat
from .localserve import ADDRESS, PASSWORD, LocalServer

pytestmark = pytest.mark.timing  # dev.py test runs these alone

MESSAGE = (b"From: <mox@localhost>\r\nTo: <mox@localhost>\r\nSubject: full\r\nMessage-Id: <full@localhost>\r\n\r\n"
           + b"a line of the body\r\n" * 2000)


@pytest.fixture
def small_disk(tmp_path):
    """A directory on a 32 MiB tmpfs, unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mountpoint = tmp_path / "fs"
    mountpoint.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(mountpoint)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.strip()}")
    yield mountpoint
    subprocess.run(["umount", "-l", str(mountpoint)], check=False)


@pytest.fixture
def full_server(small_disk):
    srv = LocalServer(str(small_disk / "localserve")).start()
    yield srv
    srv.stop(timeout=5)


def fill(directory) -> str:
    """Write a file until the filesystem has no room left; returns its path."""
    path = os.path.join(directory, "filler")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (1 << 20, 4096, 1):  # big chunks, then the last partial ones
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError as e:
                assert e.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return path


def send(srv, subject: str) -> httpx.Response:
    request = {"To": [{"Address": ADDRESS}], "Subject": subject, "Text": "body " * 20000}
    with httpx.Client(base_url=srv.base_url, auth=(ADDRESS, PASSWORD), timeout=30) as c:
        return c.post("Send", data={"request": json.dumps(request)})


def log_since(srv, start: int) -> str:
    return "".join(srv.output[start:])


def test_full_disk_gets_clear_temporary_errors_and_recovers(full_server, small_disk):
    srv = full_server
    assert send(srv, "before").status_code == 200
    # Delivered before the disk fills, so the queue has nothing to do meanwhile.
    srv.wait_for(lambda: [r for r in srv.messages() if r["subject"] == "before"], timeout=20)
    messages_before = len(srv.messages())
    filler = fill(small_disk)

    with Heartbeat(srv) as beat:
        # The webapi: code "server" as mox has for storage errors, with a message saying what and what to do.
        start = len(srv.output)
        response = send(srv, "while full")
        assert response.status_code == 400
        error = response.json()
        assert error == {"Code": "server", "Message": "adding message to the delivery queue: mail storage full, "
                                                      "try again later"}, error

        # SMTP delivery and submission: 452 4.3.1, mail system full (RFC 3463 3.4).
        with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=30) as smtp:
            with pytest.raises(smtplib.SMTPDataError) as info:
                smtp.sendmail("someone@example.org", [ADDRESS], MESSAGE)
        assert info.value.smtp_code == 452 and info.value.smtp_error.startswith(b"4.3.1 "), info.value
        with smtplib.SMTP("127.0.0.1", srv.submission_port, timeout=30) as smtp:
            smtp.login(ADDRESS, PASSWORD)
            with pytest.raises(smtplib.SMTPDataError) as info:
                smtp.sendmail(ADDRESS, ["other@example.org"], MESSAGE)
        assert info.value.smtp_code == 452 and info.value.smtp_error.startswith(b"4.3.1 "), info.value

        # IMAP APPEND: NO with RFC 5530's OVERQUOTA.
        imap = imaplib.IMAP4("127.0.0.1", srv.ports["IMAP"], timeout=30)
        imap.login(ADDRESS, PASSWORD)
        typ, data = imap.append("Inbox", None, None, MESSAGE)
        assert typ == "NO" and data[0].startswith(b"[OVERQUOTA] mail storage full"), (typ, data)
        imap.logout()
    beat.check()

    log = log_since(srv, start)
    assert "Traceback" not in log, log
    full_lines = [line for line in log.splitlines() if "storage full" in line]
    # One line per failed operation (the store's commit may add one of its own for a database write).
    assert 4 <= len(full_lines) <= 8, log
    # Nothing half-written stays: no new messages, no message files beyond those of stored messages.
    assert len(srv.messages()) == messages_before

    os.remove(filler)
    response = send(srv, "after")
    assert response.status_code == 200, response.text
    srv.wait_for(lambda: [r for r in srv.messages() if r["subject"] == "after"], timeout=20)

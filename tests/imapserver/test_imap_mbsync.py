"""mbsync (isync) syncs the whole account to a local Maildir over IMAP
with STARTTLS, and changes made in the Maildir (a flag, a new message)
reach the server on the next sync."""

import os
import shutil
import smtplib
import subprocess

import pytest

from ..localserve import ADDRESS, PASSWORD

pytestmark = [pytest.mark.skipif(shutil.which("mbsync") is None, reason="mbsync (Debian package isync) not installed"), pytest.mark.slow]


def mbsync_config(server, maildir: str) -> str:
    cert = os.path.join(server.directory, "config", "localhost.crt")
    return f"""\
IMAPAccount mox
Host localhost
Port {server.ports["IMAP"]}
User {ADDRESS}
Pass {PASSWORD}
SSLType STARTTLS
CertificateFile {cert}

IMAPStore remote
Account mox

MaildirStore local
Path {maildir}/
Inbox {maildir}/INBOX
SubFolders Verbatim

Channel mox
Far :remote:
Near :local:
Patterns *
Create Both
Expunge Both
SyncState *
Sync All
"""


def run_mbsync(config_path: str) -> None:
    result = subprocess.run(["mbsync", "-c", config_path, "-a"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def local_form(data: bytes) -> bytes:
    """A message as mbsync keeps it in a Maildir: LF line ends, without its own X-TUID tracking header."""
    lines = data.replace(b"\r\n", b"\n").split(b"\n")
    return b"\n".join(line for line in lines if not line.startswith(b"X-TUID: "))


def maildir_files(maildir: str, folder: str) -> dict[str, bytes]:
    out = {}
    for sub in ("cur", "new"):
        path = os.path.join(maildir, folder, sub)
        for name in os.listdir(path) if os.path.isdir(path) else []:
            with open(os.path.join(path, name), "rb") as f:
                out[os.path.join(path, name)] = local_form(f.read())
    return out


def test_mbsync_whole_account_and_back(server, tmp_path):
    with smtplib.SMTP("127.0.0.1", server.smtp_port) as smtp:
        for i in range(3):
            smtp.sendmail("a@example.org", ["mox@localhost"],
                          f"From: a@example.org\r\nSubject: mbsync {i}\r\n\r\nbody {i}\r\n".encode())
    rows = server.wait_for(lambda: [r for r in server.messages() if r["subject"].startswith("mbsync ")]
                           if len([r for r in server.messages() if r["subject"].startswith("mbsync ")]) == 3 else None)
    archived = rows[0]
    assert server.call("MessageMove", {"MsgID": archived["id"], "DestMailboxName": "Archive"}).status_code == 200

    maildir = str(tmp_path / "mail")
    os.makedirs(maildir)
    config_path = str(tmp_path / "mbsyncrc")
    with open(config_path, "w") as f:
        f.write(mbsync_config(server, maildir))
    run_mbsync(config_path)

    # Every mailbox is there, each message with its content (mbsync stores LF line ends).
    for folder in ("INBOX", "Archive", "Sent", "Drafts", "Trash", "Junk"):
        assert os.path.isdir(os.path.join(maildir, folder, "cur")), folder
    inbox = maildir_files(maildir, "INBOX")
    for row in rows[1:]:
        assert local_form(server.message_file(row)) in inbox.values()
    assert local_form(server.message_file(archived)) in maildir_files(maildir, "Archive").values()

    # Flag a message in the Maildir (Maildir info "F"), and add a new one; sync back.
    path = next(p for p, d in inbox.items() if d == local_form(server.message_file(rows[1])))
    base, _, info = os.path.basename(path).partition(":2,")
    os.rename(path, os.path.join(maildir, "INBOX", "cur", base + ":2," + "".join(sorted(info + "F"))))
    new_message = b"From: me@example.org\r\nSubject: written locally\r\n\r\nfrom the maildir\r\n"
    with open(os.path.join(maildir, "INBOX", "new", "1700000000.local.host"), "wb") as f:
        f.write(new_message)
    run_mbsync(config_path)

    meta = server.call("MessageGet", {"MsgID": rows[1]["id"]}).json()["Meta"]
    assert "\\flagged" in meta["Flags"]
    uploaded = [r for r in server.messages() if r["subject"] == "written locally"]
    assert len(uploaded) == 1 and uploaded[0]["mailbox"] == "Inbox"
    assert local_form(server.message_file(uploaded[0])) == local_form(new_message)

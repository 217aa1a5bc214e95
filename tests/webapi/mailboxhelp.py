"""Putting mail into a localserve's mailboxes for the listing and search
tests: over IMAP APPEND (into a mailbox of the test's own, with the
received time it names) and SMTP, and composing the messages."""

from __future__ import annotations

import imaplib
import smtplib
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.policy import SMTP

from ..imapclient import login
from ..localserve import ADDRESS

# Received times of appended messages count up from here, a minute apart.
EPOCH = datetime(2025, 1, 1, tzinfo=timezone.utc)


def compose(subject: str = "hello", text: str | None = "hi", *, html: str | None = None, sender: str = "a@example.org",
            to: str = ADDRESS, cc: str = "", attachment: bytes | None = None, message_id: str = "",
            headers: dict[str, str] | None = None) -> bytes:
    msg = EmailMessage(policy=SMTP)
    msg["From"] = sender
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    msg["Date"] = "Wed, 01 Jan 2025 12:00:00 +0000"
    if message_id:
        msg["Message-ID"] = message_id
    for name, value in (headers or {}).items():
        msg[name] = value
    if text is not None:
        msg.set_content(text)
    if html is not None:
        if text is None:
            msg.set_content(html, subtype="html")
        else:
            msg.add_alternative(html, subtype="html")
    if attachment is not None:
        msg.add_attachment(attachment, maintype="application", subtype="pdf", filename="report.pdf")
    return msg.as_bytes()


class Mailbox:
    """A mailbox made for one test, filled over IMAP APPEND."""

    def __init__(self, server, name: str):
        self.server = server
        self.name = name
        self.count = 0
        self.imap = login(server)
        status, _ = self.imap.create(name)
        assert status == "OK"

    def append(self, data: bytes, flags: str = "", minute: int | None = None) -> int:
        """Append a message; returns its MsgID. Received is EPOCH plus minute (default: one per message)."""
        self.count += 1
        when = EPOCH + timedelta(minutes=self.count if minute is None else minute)
        status, response = self.imap.append(self.name, f"({flags})" if flags else None,
                                            imaplib.Time2Internaldate(when), data)
        assert status == "OK", response
        # RFC 4315 APPENDUID: [APPENDUID uidvalidity uid]; the MsgID is read back over the webapi.
        uid = int(response[0].split(b"APPENDUID ")[1].split(b" ")[1].rstrip(b"]"))
        return self.msg_id(uid)

    def msg_id(self, uid: int) -> int:
        page = self.server.call("MessageList", {"Mailbox": self.name, "PageSize": 1000}).json()
        (found,) = [m["MsgID"] for m in page["Messages"] if m["UID"] == uid]
        return found

    def close(self) -> None:
        self.imap.logout()


def deliver_smtp(server, data: bytes, rcpt: str = ADDRESS) -> None:
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=30) as smtp:
        smtp.sendmail("sender@example.org", [rcpt], data)


def page(server, method: str, **request) -> dict:
    response = server.call(method, request)
    assert response.status_code == 200, response.text
    return response.json()


def error(server, method: str, **request) -> dict:
    response = server.call(method, request)
    assert response.status_code == 400, response.text
    return response.json()

"""What a running server takes from a changed config file at once, and what
only at start, as the comment at the top of every written config says."""

import re
import smtplib
import socket

import msgspec

from moxpy import config as configlib

from ..localserve import ADDRESS, PASSWORD, free_ports


def header_lists() -> tuple[str, str]:
    text = " ".join(line.lstrip("# ") for line in configlib.HEADER.splitlines())
    live = re.search(r"Applied at once: (.*?)\. Applied only at start", text).group(1)
    start = re.search(r"Applied only at start, so restart after changing: (.*?)\. ", text).group(1)
    return live, start


def test_the_comment_names_every_setting_once():
    live, start = header_lists()
    fields = [f.name for f in msgspec.structs.fields(configlib.Config) if f.name != "path"]
    queue = [f"Queue.{f.name}" for f in msgspec.structs.fields(configlib.Queue)]
    for field in [f for f in fields if f != "Queue"] + queue:
        in_live, in_start = re.search(rf"\b{re.escape(field)}\b", live), re.search(rf"\b{re.escape(field)}\b", start)
        assert bool(in_live) != bool(in_start), (field, live, start)


def submit(srv, subject: str) -> tuple[int, bytes]:
    with smtplib.SMTP("127.0.0.1", srv.submission_port, timeout=10) as s:
        s.login(ADDRESS, PASSWORD)
        s.mail(ADDRESS)
        s.rcpt("friend@example.com")
        return s.data(f"From: {ADDRESS}\r\nSubject: {subject}\r\n\r\nbody\r\n".encode())


def test_account_limits_apply_at_once_and_listener_ports_at_start(new_server):
    srv = new_server().start()
    assert submit(srv, "before")[0] == 250

    config = configlib.load(srv.config.path)
    config.Accounts["mox"].MaxOutgoingMessagesPerDay = 1
    new_port = free_ports(1)[0]
    config.Listeners["local"].SMTP.Port = new_port
    configlib.save(config)

    code, text = submit(srv, "after")
    assert (code, text[:5]) == (451, b"4.7.1")  # the limit counts the message sent before
    # The SMTP listener stays where it was until a restart.
    with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=10) as s:
        assert s.noop()[0] == 250
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", new_port)) != 0

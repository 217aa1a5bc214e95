"""Limits over IMAP: APPEND of a message larger than APPENDLIMIT is refused
before its literal is read, or (for a non-synchronizing literal that comes
anyway) dropped as it arrives; the literal of a command answered BAD is not
read as commands; and what arrives before login that is not IMAP (TLS, binary
bytes, a line without end) gets a plain answer, never a traceback."""

from __future__ import annotations

import re
import socket
import ssl
import time

import pytest

from ..heartbeat import Heartbeat
from ..imapclient import Raw

pytestmark = pytest.mark.timing  # dev.py test runs these alone

CHUNK = b"x" * (1 << 20)


def session(server, login: bool = True) -> Raw:
    client = Raw(server.ports["IMAP"], timeout=60)
    if login:
        client.login()
    return client


def limit_of(lines: list[bytes]) -> int:
    (line,) = [line for line in lines if line.startswith(b"* CAPABILITY ")]
    m = re.search(rb" APPENDLIMIT=(\d+)", line)
    assert m, line
    return int(m.group(1))


def peak_rss(server) -> int:
    """The server process's peak resident memory in octets (Linux)."""
    with open(f"/proc/{server.proc.pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def send_octets(client: Raw, n: int) -> None:
    while n:
        k = min(n, len(CHUNK))
        client.send(CHUNK[:k])
        n -= k


def assert_no_traceback(server) -> None:
    assert "Traceback" not in "".join(server.output), "".join(server.output)[-3000:]


def test_appendlimit_same_before_and_after_login_and_is_the_config_limit(server):
    # mox announces APPENDLIMIT (RFC 7889) in every state; the number is the limit enforced.
    client = session(server, login=False)
    try:
        before = limit_of(client.command(b"CAPABILITY")[0])
        client.login()
        after = limit_of(client.command(b"CAPABILITY")[0])
    finally:
        client.close()
    assert before == after == server.config.MaxMessageSize


def test_append_sync_literal_too_large_refused_before_continuation(server):
    client = session(server)
    try:
        limit = limit_of(client.command(b"CAPABILITY")[0])
        tag = client.tag()
        start = time.monotonic()
        client.send(tag + b" APPEND INBOX {%d}\r\n" % (limit + 1))
        # No "+ " continuation: the tagged NO comes at once, without the client sending anything more.
        line = client.line()
        assert line.startswith(tag + b" NO [TOOBIG] "), line
        assert b"%d" % limit in line
        assert time.monotonic() - start < 5
        _, tagged = client.command(b"NOOP")
        assert b" OK " in tagged
    finally:
        client.close()
    assert_no_traceback(server)


def test_append_at_the_limit_still_gets_a_continuation(server):
    client = session(server)
    try:
        limit = limit_of(client.command(b"CAPABILITY")[0])
        tag = client.tag()
        client.send(tag + b" APPEND INBOX {%d}\r\n" % limit)
        assert client.line().startswith(b"+"), "expected a continuation request"
        send_octets(client, limit)
        client.send(b"\r\n")
        _, tagged = client.until(tag)
        # Stored (the limit is inclusive) or refused for other reasons, but not as too big.
        assert b"TOOBIG" not in tagged, tagged
    finally:
        client.close()


def test_append_nonsync_literal_too_large_dropped_unbuffered(new_server):
    # A fresh server, so its peak memory is not that of an earlier large APPEND.
    server = new_server().start()
    client = session(server)
    try:
        limit = limit_of(client.command(b"CAPABILITY")[0])
        size = limit + (1 << 20)  # 101 MiB with the default limit
        before = peak_rss(server)
        with Heartbeat(server) as beat:
            tag = client.tag()
            client.send(tag + b" APPEND INBOX {%d+}\r\n" % size)
            send_octets(client, size)
            client.send(b"\r\n")
            _, tagged = client.until(tag)
        beat.check()
        assert tagged.startswith(tag + b" NO [TOOBIG] "), tagged
        # The octets were counted, not kept: the server's peak memory did not grow by the message.
        grown = peak_rss(server) - before
        assert grown < limit // 4, f"server peak memory grew by {grown} octets"
        # The session goes on: the literal was not read as commands.
        _, tagged = client.command(b"NOOP")
        assert b" OK " in tagged, tagged
    finally:
        client.close()
    assert_no_traceback(server)


def test_append_limit_follows_config(new_server):
    def small(config):
        config.MaxMessageSize = 1000

    srv = new_server(small).start()
    client = session(srv)
    try:
        assert limit_of(client.command(b"CAPABILITY")[0]) == 1000
        message = b"Subject: small\r\n\r\n" + b"x" * 900 + b"\r\n"
        _, tagged = client.command(b"APPEND INBOX {%d+}\r\n" % len(message) + message)
        assert b" OK " in tagged, tagged
        tag = client.tag()
        client.send(tag + b" APPEND INBOX {1001}\r\n")
        assert client.line().startswith(tag + b" NO [TOOBIG] ")
        _, tagged = client.command(b"APPEND INBOX {1001+}\r\n" + b"y" * 1001)
        assert b" NO [TOOBIG] " in tagged, tagged
    finally:
        client.close()
    assert_no_traceback(srv)


@pytest.mark.parametrize("command", [
    b"SEARCH TEXT {5000+}",  # not allowed before SELECT: BAD before the literal
    b"NOSUCHCOMMAND {5000+}",
    b"SELECT {5000+}",  # a string literal over its limit (4096)
    b'LIST "" "*" {5000+}',  # too many arguments
    b"LOGIN {3+}\r\nabc {5000+}",  # not allowed once logged in, with a first literal on the line
])
def test_literal_of_refused_command_not_read_as_commands(server, command):
    # RFC 7888 4: a {N+} literal arrives even when its command is refused; its octets must not be
    # taken as commands (here: one that would delete a mailbox).
    client = session(server)
    try:
        _, tagged = client.command(b"CREATE keepme")
        assert b" OK " in tagged or b"ALREADYEXISTS" in tagged, tagged
        body = b"\r\nz1 DELETE keepme\r\n".ljust(5000, b"y")
        untagged, tagged = client.command(command + b"\r\n" + body)
        assert b" BAD " in tagged, tagged
        lines, noop = client.command(b"NOOP")
        assert b" OK " in noop, noop
        assert not any(b"z1" in line for line in lines + untagged), lines
        untagged, tagged = client.command(b'LIST "" keepme')
        assert any(b"keepme" in line for line in untagged), untagged
    finally:
        client.close()
    assert_no_traceback(server)


# Before login: what is not IMAP.

def raw_exchange(server, data: bytes, wait: float = 5.0) -> bytes:
    """Send data after the greeting; what the server answers until it closes or goes quiet."""
    with socket.create_connection(("127.0.0.1", server.ports["IMAP"]), timeout=wait) as s:
        f = s.makefile("rb")
        assert f.readline().startswith(b"* OK")
        s.sendall(data)
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
        except (TimeoutError, ConnectionResetError):
            pass
        return out


def client_hello() -> bytes:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


def assert_plain_bye(reply: bytes, words: bytes) -> None:
    assert reply.startswith(b"* BYE "), reply[:200]
    line = reply.split(b"\r\n", 1)[0]
    assert re.fullmatch(rb"[\x20-\x7e]+", line), line
    assert words in line, line


def test_tls_client_hello_on_plain_port_gets_bye(server):
    with Heartbeat(server) as beat:
        reply = raw_exchange(server, client_hello(), wait=5)
    beat.check()
    # Answered at once (not after a timeout), then closed.
    assert_plain_bye(reply, b"TLS")
    assert_no_traceback(server)


@pytest.mark.parametrize("data", [
    b"\x00\r\n",
    b"\x00\x00 CAPABILITY\r\n",
    b"\xff\xff\xff\r\n",
    b"\xff\xfe CAPABILITY\r\n",
])
def test_binary_first_line_gets_bye_not_an_echo(server, data):
    with Heartbeat(server) as beat:
        reply = raw_exchange(server, data, wait=5)
    beat.check()
    assert_plain_bye(reply, b"tag")
    assert data.split(b"\r\n")[0] not in reply
    assert_no_traceback(server)


def test_nul_inside_command_is_bad(server):
    client = session(server, login=False)
    try:
        _, tagged = client.command(b"NOOP\x00")
        assert b" BAD " in tagged, tagged
        assert re.fullmatch(rb"[\x20-\x7e]+", tagged), tagged
        _, tagged = client.command(b"NOOP")
        assert b" OK " in tagged, tagged
    finally:
        client.close()
    assert_no_traceback(server)


def test_bad_tag_after_a_command_is_untagged_bad_and_session_goes_on(server):
    client = session(server, login=False)
    try:
        _, tagged = client.command(b"NOOP")
        assert b" OK " in tagged
        client.send(b"\xff\xfe CAPABILITY\r\n")
        line = client.line()
        assert line.startswith(b"* BAD "), line
        assert re.fullmatch(rb"[\x20-\x7e]+", line), line
        _, tagged = client.command(b"NOOP")
        assert b" OK " in tagged, tagged
    finally:
        client.close()


def test_long_line_without_crlf_before_login_gets_bye(server):
    with Heartbeat(server) as beat:
        reply = raw_exchange(server, b"a1 LOGIN " + b"a" * 100_000, wait=5)
    beat.check()
    assert_plain_bye(reply, b"too long")
    assert_no_traceback(server)


def test_long_lines_still_allowed_after_login(server):
    # UID sets of large mailboxes make long lines; the short limit is for before login only.
    client = session(server)
    try:
        _, tagged = client.command(b"SELECT INBOX")
        assert b" OK " in tagged
        uids = b",".join(b"%d" % (2 * i + 1) for i in range(20000))  # ~110 KB
        _, tagged = client.command(b"UID FETCH " + uids + b" FLAGS")
        assert b" OK " in tagged, tagged
    finally:
        client.close()


@pytest.mark.parametrize("name", [b'"&2D0-"', b"&2D0-", b'"&2D0AAA-"', b'"a&2D0-b"'])
def test_create_lone_surrogate_name_is_no(server, name):
    client = session(server)
    try:
        _, tagged = client.command(b"CREATE " + name)
        assert tagged.split()[1] == b"NO", tagged
        assert b"modified UTF-7" in tagged, tagged
        assert re.fullmatch(rb"[\x20-\x7e]+", tagged), tagged
        _, tagged = client.command(b"NOOP")
        assert b" OK " in tagged
    finally:
        client.close()
    assert_no_traceback(server)

"""Failed logins are throttled per address and per network around it (the
/26 of an IPv4 address), over the webapi, SMTP submission and IMAP alike,
as in mox: guesses spread over many addresses of one network share a budget."""

import smtplib
import socket

import httpx
import pytest

from moxpy import ratelimit

from .localserve import ADDRESS, PASSWORD


def test_ip_classes_are_address_and_networks():
    assert ratelimit.ip_classes("192.0.2.77") == ((0, "192.0.2.77/32"), (1, "192.0.2.64/26"), (2, "192.0.0.0/21"))
    assert ratelimit.ip_classes("::ffff:192.0.2.77") == ratelimit.ip_classes("192.0.2.77")
    assert ratelimit.ip_classes("2001:db8:1:2:3::4") == (
        (0, "2001:db8:1:2::/64"), (1, "2001:db8:1::/48"), (2, "2001:db8::/32"))
    assert ratelimit.ip_classes("not an address")[0] == (0, "not an address")


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_limiter_counts_networks_slides_and_resets():
    clock = Clock()
    limiter = ratelimit.Limiter((ratelimit.Window(60, (2, 3, 100)),), clock=clock)
    limiter.add("10.0.0.1")
    limiter.add("10.0.0.1")
    assert not limiter.can_add("10.0.0.1")  # the address's own limit
    assert limiter.can_add("10.0.0.2")
    limiter.add("10.0.0.2")
    assert not limiter.can_add("10.0.0.3")  # the /26 is full
    assert limiter.can_add("10.0.0.64")  # another /26
    limiter.reset("10.0.0.1")  # a good login takes its address's share out of the /26 too
    assert limiter.can_add("10.0.0.1") and limiter.can_add("10.0.0.3")
    limiter.add("10.0.0.3")
    limiter.add("10.0.0.3")
    clock.now += 59
    assert not limiter.can_add("10.0.0.3")
    clock.now += 2  # older than the window now
    assert limiter.can_add("10.0.0.3")


def test_limiter_memory_is_bounded():
    limiter = ratelimit.Limiter((ratelimit.Window(60, (1, 1, 1)),), max_keys=30)
    for i in range(100):
        limiter.add(f"2001:db8:{i}::1")
    assert sum(len(events) for events in limiter._events) <= 30 + 3


def webapi_status(srv, source: str, password: str) -> int:
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(base_url=srv.base_url, auth=(ADDRESS, password), transport=transport, timeout=30) as c:
        return c.post("SuppressionList", data={"request": "{}"}).status_code


def imap_login(port: int, source: str, password: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=30, source_address=(source, 0)) as sock:
        f = sock.makefile("rb")
        assert f.readline().startswith(b"* OK")
        sock.sendall(f"a LOGIN {ADDRESS} {password}\r\n".encode())
        while not (line := f.readline()).startswith(b"a "):
            assert line
        return line


@pytest.mark.slow
def test_failures_from_one_network_are_throttled_together_on_every_listener(new_server):
    srv = new_server().start()
    # Ten failures each from three addresses of 127.0.0.0/26, one per listener.
    for _ in range(10):
        assert webapi_status(srv, "127.0.0.2", "wrong") == 401
    with smtplib.SMTP("127.0.0.1", srv.submission_port, source_address=("127.0.0.3", 0), timeout=30) as s:
        s.ehlo()
        s.user, s.password = ADDRESS, "wrong"
        for _ in range(10):
            with pytest.raises(smtplib.SMTPAuthenticationError) as e:
                s.auth("PLAIN", s.auth_plain)
            assert e.value.smtp_code == 535
    for _ in range(10):
        assert b"[AUTHENTICATIONFAILED]" in imap_login(srv.ports["IMAP"], "127.0.0.4", "wrong")

    # A fresh address of the same /26 is refused unchecked everywhere, even with the right password.
    assert webapi_status(srv, "127.0.0.5", PASSWORD) == 429
    assert b"[UNAVAILABLE]" in imap_login(srv.ports["IMAP"], "127.0.0.6", PASSWORD)
    with smtplib.SMTP("127.0.0.1", srv.submission_port, source_address=("127.0.0.7", 0), timeout=30) as s:
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            s.login(ADDRESS, PASSWORD)
        assert e.value.smtp_code == 454

    # Another /26 is not affected.
    assert webapi_status(srv, "127.0.0.70", PASSWORD) == 200
    assert b"a OK" in imap_login(srv.ports["IMAP"], "127.0.0.71", PASSWORD)


@pytest.mark.slow
def test_a_good_login_forgets_the_address_failures(new_server):
    srv = new_server().start()
    for _ in range(9):
        assert webapi_status(srv, "127.0.0.9", "wrong") == 401
    assert webapi_status(srv, "127.0.0.9", PASSWORD) == 200
    for _ in range(9):
        assert webapi_status(srv, "127.0.0.9", "wrong") == 401
    assert webapi_status(srv, "127.0.0.9", PASSWORD) == 200  # 18 failures, never 10 since the last success

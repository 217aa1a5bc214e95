"""Open connections per remote address are capped per listening service:
past the cap SMTP answers 421 4.7.0, IMAP "* BYE" and HTTP 503, and close;
a closed connection frees its slot. Listening sockets take a burst of
connections in a large backlog."""

import shutil
import socket
import ssl
import subprocess
import time

import pytest

from moxpy import connlimit

CAP = 3


def test_cap_defaults():
    assert connlimit.per_ip(0, localserve=False) == 30
    assert connlimit.per_ip(0, localserve=True) >= 200
    assert connlimit.per_ip(7, localserve=True) == 7


def test_networks_get_three_and_nine_times_the_cap():
    limit = connlimit.ConnectionLimit("test", 2)
    assert all(limit.acquire(f"10.0.0.{i // 2}") for i in range(6))  # 2 each from 3 addresses of a /26
    assert not limit.acquire("10.0.0.9")  # the /26 holds 6
    assert limit.acquire("10.0.0.64")
    limit.release("10.0.0.0")
    assert limit.acquire("10.0.0.9")


@pytest.fixture(scope="module")
def capped(tmp_path_factory):
    from .localserve import LocalServer

    def configure(config):
        config.MaxConnectionsPerIP = CAP

    srv = LocalServer(str(tmp_path_factory.mktemp("capped")), configure).start()
    yield srv
    srv.stop()


def tls_client(sock: socket.socket) -> ssl.SSLSocket:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    return context.wrap_socket(sock)


HTTP_GET = b"GET /webapi/v0/ HTTP/1.1\r\nHost: localhost\r\n\r\n"

# service: (port name, implicit TLS, what a served client sends first, start of its first answer, start of a refusal)
SERVICES = {
    "smtp": ("SMTP", False, b"", b"220 ", b"421 4.7.0 too many open connections"),
    "submission": ("Submission", False, b"", b"220 ", b"421 4.7.0 too many open connections"),
    "submissions": ("Submissions", True, b"", b"220 ", b"421 4.7.0 too many open connections"),
    "imap": ("IMAP", False, b"", b"* OK", b"* BYE too many open connections"),
    "imaps": ("IMAPS", True, b"", b"* OK", b"* BYE too many open connections"),
    "webapihttp": ("WebAPIHTTP", False, HTTP_GET, b"HTTP/1.1 200", b"HTTP/1.1 503"),
    "webapihttps": ("WebAPIHTTPS", True, HTTP_GET, b"HTTP/1.1 200", b"HTTP/1.1 503"),
}


def connect(srv, service: str) -> tuple[socket.socket, bytes]:
    """A connection to service and the start of its first answer."""
    port_name, tls, send, _, _ = SERVICES[service]
    sock = socket.create_connection(("127.0.0.1", srv.ports[port_name]), timeout=10)
    if tls:
        sock = tls_client(sock)
    if send:
        sock.sendall(send)
    return sock, sock.recv(200)


@pytest.mark.parametrize("service", SERVICES)
def test_connections_past_the_cap_are_refused_and_closing_frees_a_slot(capped, service):
    _, _, _, served, refused = SERVICES[service]
    held = []
    try:
        for _ in range(CAP):
            sock, first = connect(capped, service)
            assert first.startswith(served), first
            held.append(sock)
        sock, first = connect(capped, service)
        assert first.startswith(refused), first
        try:
            rest = sock.recv(1000)
            while rest and service.startswith("webapi"):  # the 503's body, then the close
                rest = sock.recv(1000)
            assert rest == b""  # closed by the server
        except (ConnectionResetError, ssl.SSLError):
            pass
        sock.close()

        held.pop().close()
        deadline = time.monotonic() + 10
        while True:  # the server notices the close shortly
            sock, first = connect(capped, service)
            if first.startswith(served) or time.monotonic() > deadline:
                break
            sock.close()
            time.sleep(0.05)
        assert first.startswith(served), first
        held.append(sock)
    finally:
        for sock in held:
            sock.close()


def test_other_services_are_capped_on_their_own(capped):
    held = [connect(capped, "imap")[0] for _ in range(CAP)]
    try:
        sock, first = connect(capped, "smtp")
        assert first.startswith(b"220 ")
        sock.close()
    finally:
        for sock in held:
            sock.close()


@pytest.mark.skipif(shutil.which("ss") is None, reason="ss (iproute2) not installed")
def test_listening_sockets_have_a_large_backlog(capped):
    # For a listening socket ss shows the backlog as Send-Q.
    for port_name in ("SMTP", "Submissions", "IMAP", "WebAPIHTTP"):
        out = subprocess.run(["ss", "-ltnH", f"sport = :{capped.ports[port_name]}"], capture_output=True,
                             text=True, check=True).stdout.split()
        assert int(out[2]) >= 1024, (port_name, out)

"""Listening sockets of every listener (SMTP on asyncio, IMAP and HTTP on
Twisted): an IPv4 and an IPv6 address of one listener share their ports,
as quickstart's "0.0.0.0" and "::" do, and a port that cannot be had stops
the start with one line naming it."""

import os
import socket
import ssl
import subprocess
import sys

import httpx
import pytest

from .localserve import ROOT, LocalServer

SERVICES = ["SMTP", "Submission", "Submissions", "IMAP", "IMAPS", "WebAPIHTTP", "WebAPIHTTPS"]


def ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def ports_free_everywhere(n: int) -> list[int]:
    """Ports no socket uses on any IPv4 or IPv6 address."""
    ports: list[int] = []
    while len(ports) < n:
        with socket.socket() as s4, socket.socket(socket.AF_INET6) as s6:
            s4.bind(("0.0.0.0", 0))
            port = s4.getsockname()[1]
            s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                s6.bind(("::", port))
            except OSError:
                continue
        if port not in ports:
            ports.append(port)
    return ports


def greeting(ip: str, port: int, tls: bool = False) -> bytes:
    with socket.create_connection((ip, port), timeout=10) as sock:
        if tls:
            context = ssl.create_default_context()
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
            with context.wrap_socket(sock) as wrapped:
                return wrapped.recv(100)
        return sock.recv(100)


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback on this machine")
@pytest.mark.parametrize("ips", [["127.0.0.1", "::1"], ["0.0.0.0", "::"]])
def test_ipv4_and_ipv6_addresses_share_the_ports(tmp_path, ips):
    ports = dict(zip(SERVICES, ports_free_everywhere(len(SERVICES))))

    def configure(config):
        listener = config.Listeners["local"]
        listener.IPs = ips
        for name, port in ports.items():
            getattr(listener, name).Port = port

    srv = LocalServer(str(tmp_path), configure)
    srv.ports = ports
    srv.start()
    try:
        for ip in ("127.0.0.1", "::1"):
            assert greeting(ip, ports["SMTP"]).startswith(b"220 ")
            assert greeting(ip, ports["Submissions"], tls=True).startswith(b"220 ")
            assert greeting(ip, ports["IMAP"]).startswith(b"* OK")
            assert greeting(ip, ports["IMAPS"], tls=True).startswith(b"* OK")
            host = f"[{ip}]" if ":" in ip else ip
            for name, scheme in (("WebAPIHTTP", "http"), ("WebAPIHTTPS", "https")):
                resp = httpx.get(f"{scheme}://{host}:{ports[name]}/webapi/v0/", verify=False, timeout=10)
                assert resp.status_code == 200
    finally:
        assert srv.stop() == 0


@pytest.mark.parametrize("service", ["SMTP", "IMAPS", "WebAPIHTTP"])
def test_a_port_in_use_is_one_line_and_a_failed_start(tmp_path, service):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]

        srv = LocalServer(str(tmp_path), lambda config: setattr(
            getattr(config.Listeners["local"], service), "Port", port))
        out = subprocess.run([sys.executable, os.path.join(ROOT, "mox.py"), "localserve", "-dir", srv.directory],
                             capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "Traceback" not in out.stderr + out.stdout
    errors = [line for line in out.stderr.splitlines() if "cannot" in line]
    assert errors == [f"mox: cannot start: cannot listen for {service.lower()} on 127.0.0.1:{port}: "
                      "Address already in use"], out.stderr

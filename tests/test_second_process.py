"""Processes = 0: one process while the load is light, a delivery process
started under load and ended when the load is gone (moxpy/secondprocess.py).
While the work moves between the processes, clients see one server: no
connection refused, no session cut, every delivery seen by IMAP at once."""

import imaplib
import os
import re
import signal
import smtplib
import socket
import threading
import time

import pytest

from .localserve import ADDRESS, PASSWORD, children
from .test_processes import alive, idle_sees_delivery

SEND = {"To": [{"Address": ADDRESS}], "Text": "hi"}


def on_demand(load: float, quiet: float = 60.0):
    def configure(config):
        config.Processes = 0
        config.SecondProcessLoad = load
        config.SecondProcessQuiet = quiet

    return configure


def delivery_process(srv, timeout: float = 20.0) -> int:
    """The delivery process, once it is there and has said it is ready."""
    srv.wait_for(lambda: "secondprocess: delivery process ready" in "".join(srv.output), timeout)
    [pid] = children(srv.proc.pid)
    return pid


def set_setting(srv, name: str, value: str) -> None:
    """Change a setting in the running server's config file (read again at once, see config.Source)."""
    path = os.path.join(srv.directory, "config", "mox.toml")
    with open(path) as f:
        text = f.read()
    text, n = re.subn(rf"(?m)^{name} = .*$", f"{name} = {value}", text)
    assert n == 1, text
    time.sleep(0.01)  # a new modification time
    with open(path + ".new", "w") as f:
        f.write(text)
    os.replace(path + ".new", path)


def owner(srv, client: socket.socket) -> int:
    """The pid of the server process holding the other end of a client's TCP connection on loopback
    (once a process has accepted it)."""
    local_port = client.getsockname()[1]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        inodes = set()
        with open("/proc/net/tcp") as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if int(fields[2].split(":")[1], 16) == local_port and fields[9] != "0":
                    inodes.add(f"socket:[{fields[9]}]")
        for pid in [srv.proc.pid] + children(srv.proc.pid):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                        return pid
                except FileNotFoundError:
                    pass
        time.sleep(0.02)
    raise AssertionError("no server process holds the connection")


def sent_subjects(srv) -> set[str]:
    return {m["subject"] for m in srv.messages()}


def test_an_idle_server_is_one_process_and_a_busy_one_starts_a_second_that_serves_smtp_and_webapi(new_server):
    srv = new_server(on_demand(load=0.3)).start()
    front = srv.proc.pid
    assert children(front) == []

    # Load: Sends from a few clients, until the delivery process is there.
    accepted, stop = [], threading.Event()

    def sends(n: int) -> None:
        with srv.client() as client:
            i = 0
            while not stop.is_set():
                subject = f"load {n} {i}"
                response = client.post("Send", data={"request": '{"To":[{"Address":"%s"}],"Subject":"%s",'
                                                                '"Text":"hi"}' % (ADDRESS, subject)})
                assert response.status_code == 200, response.text
                accepted.append(subject)
                i += 1

    threads = [threading.Thread(target=sends, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    try:
        delivery = delivery_process(srv, 30)
    finally:
        time.sleep(1)  # a moment of both processes under load
        stop.set()
        for t in threads:
            t.join()

    # A new SMTP connection is the delivery process's; an IDLE session in the front hears its deliveries.
    with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=10) as smtp:
        assert owner(srv, smtp.sock) == delivery
        smtp.sendmail("someone@example.org", [ADDRESS], b"Subject: to the second\r\n\r\nhi\r\n")
    idle_sees_delivery(srv)
    # Of new webapi connections open at once, the front passes about half on; each is served.
    connections = [socket.create_connection(("127.0.0.1", srv.ports["WebAPIHTTP"])) for _ in range(6)]
    try:
        for conn in connections:
            conn.sendall(b"GET /webapi/v0/ HTTP/1.1\r\nHost: localhost\r\n\r\n")
            assert conn.recv(12) == b"HTTP/1.1 200"
        assert {owner(srv, conn) for conn in connections} == {front, delivery}
    finally:
        for conn in connections:
            conn.close()

    # Every accepted Send, and the message over SMTP, is in the Inbox.
    srv.wait_for(lambda: set(accepted) | {"to the second"} <= sent_subjects(srv), 30)
    assert srv.stop() == 0
    assert not alive(delivery)
    log = "".join(srv.output)
    assert "Traceback" not in log, log
    assert "starting the delivery process" in log
    assert log.count("info server: stopped") == 2


def test_the_delivery_process_ends_when_the_load_is_gone_and_a_session_open_then_goes_on(new_server):
    srv = new_server(on_demand(load=0.0, quiet=1.0)).start()  # started at once
    delivery = delivery_process(srv)
    smtp = smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=10)
    try:
        assert owner(srv, smtp.sock) == delivery
        smtp.sendmail("someone@example.org", [ADDRESS], b"Subject: before\r\n\r\nhi\r\n")

        # Never busy enough from here: the delivery process retires, but waits for the session it holds.
        set_setting(srv, "SecondProcessLoad", "2.0")
        srv.wait_for(lambda: "retiring, accepting no more connections" in "".join(srv.output), 15)
        with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=10) as other:
            assert owner(srv, other.sock) == srv.proc.pid  # new connections are the front's again
            other.sendmail("someone@example.org", [ADDRESS], b"Subject: meanwhile\r\n\r\nhi\r\n")
        time.sleep(0.5)
        assert alive(delivery)
        smtp.sendmail("someone@example.org", [ADDRESS], b"Subject: after\r\n\r\nhi\r\n")
    finally:
        smtp.quit()
    srv.wait_for(lambda: children(srv.proc.pid) == [], 10)  # ended, and reaped
    assert "delivery process stopped" in "".join(srv.output)
    assert {"before", "meanwhile", "after"} <= sent_subjects(srv)
    idle_sees_delivery(srv)
    assert srv.call("Send", dict(SEND, Subject="one process")).status_code == 200
    srv.wait_for(lambda: "one process" in sent_subjects(srv), 10)
    assert srv.stop() == 0
    assert "Traceback" not in "".join(srv.output)


def test_a_webapi_connection_of_the_retiring_process_is_closed_between_requests(new_server):
    srv = new_server(on_demand(load=0.0, quiet=1.0)).start()
    delivery = delivery_process(srv)
    # Connections until one is the delivery process's (the front passes about every other one on).
    with srv.client() as client:
        for _ in range(10):
            client.get("")
        held = [c for c in (socket.create_connection(("127.0.0.1", srv.ports["WebAPIHTTP"])) for _ in range(4))]
        try:
            theirs = [c for c in held if owner(srv, c) == delivery]
            assert theirs
            set_setting(srv, "SecondProcessLoad", "2.0")
            srv.wait_for(lambda: not alive(delivery), 15)
            for conn in theirs:
                conn.settimeout(5)
                assert conn.recv(1) == b""  # closed, with no request cut
            # The client's own pool connects again where it must.
            assert client.post("Send", data={"request": '{"To":[{"Address":"%s"}],"Subject":"after","Text":"x"}'
                                             % ADDRESS}).status_code == 200
        finally:
            for conn in held:
                conn.close()
    srv.wait_for(lambda: "after" in sent_subjects(srv), 10)


def test_when_the_delivery_process_dies_the_server_goes_on_in_one_process(new_server):
    srv = new_server(on_demand(load=0.0)).start()
    delivery = delivery_process(srv)
    os.kill(delivery, signal.SIGKILL)
    srv.wait_for(lambda: "the delivery process ended" in "".join(srv.output), 10)
    assert srv.proc.poll() is None
    # SMTP is served by the front again (a new delivery process comes only after 30 s).
    with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=10) as smtp:
        smtp.sendmail("someone@example.org", [ADDRESS], b"Subject: after the death\r\n\r\nhi\r\n")
    assert srv.call("Send", dict(SEND, Subject="sent after")).status_code == 200
    srv.wait_for(lambda: {"after the death", "sent after"} <= sent_subjects(srv), 15)
    assert children(srv.proc.pid) == []
    assert srv.stop() == 0
    log = "".join(srv.output)
    assert "Traceback" not in log, log


def test_a_stop_while_the_delivery_process_runs_stops_both(new_server):
    srv = new_server(on_demand(load=0.0)).start()
    delivery = delivery_process(srv)
    assert srv.call("Send", dict(SEND, Subject="before the stop")).status_code == 200
    srv.wait_for(lambda: "before the stop" in sent_subjects(srv), 10)
    assert srv.stop() == 0
    assert not alive(delivery)
    log = "".join(srv.output)
    assert "Traceback" not in log, log
    assert not re.search(r"Z (error|warn) ", log), log


def test_the_second_process_settings_are_checked():
    from moxpy import config as configlib

    for config, message in ((configlib.Config(SecondProcessLoad=-1), "SecondProcessLoad: -1 must be from 0 to 2"),
                            (configlib.Config(SecondProcessLoad=float("nan")), "SecondProcessLoad: nan must be"),
                            (configlib.Config(SecondProcessQuiet=0), "SecondProcessQuiet: 0 must be more than 0")):
        with pytest.raises(configlib.ConfigError, match=message):
            configlib.validate(config)


def test_killing_the_server_kills_the_delivery_process_started_on_demand(new_server):
    srv = new_server(on_demand(load=0.0)).start()
    delivery = delivery_process(srv)
    srv.kill()
    deadline = time.monotonic() + 5
    while alive(delivery) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not alive(delivery)
    # Its ports are free again: the server starts at once on the same ones.
    srv.start()
    idle_sees_delivery(srv)


def test_a_stop_while_the_delivery_process_is_starting_is_clean(new_server):
    srv = new_server(on_demand(load=0.0)).start()
    srv.wait_for(lambda: "starting the delivery process" in "".join(srv.output), 10)
    [delivery] = children(srv.proc.pid)
    assert srv.stop() == 0
    assert not alive(delivery)
    log = "".join(srv.output)
    assert not re.search(r"Z (error|warn) |Traceback", log), log

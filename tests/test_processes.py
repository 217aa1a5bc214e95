"""The server as one process or two (the Processes setting): with two, IMAP,
the queue and webhooks run in the front process and the SMTP listeners in a
forked delivery process, and both serve webapi connections. Whatever the split, a client sees one
server: a delivery reaches an IDLE session at once, a Send is delivered,
and the server starts, stops and dies as a whole."""

import imaplib
import os
import signal
import smtplib
import socket
import subprocess
import sys
import time

import pytest

from moxpy import config as configlib

from .localserve import ADDRESS, PASSWORD, ROOT, LocalServer, children, interruptible


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def processes(n: int):
    return lambda config: setattr(config, "Processes", n)


def idle_sees_delivery(srv: LocalServer, address: str = ADDRESS, password: str = PASSWORD) -> None:
    """An IDLE session on the Inbox hears of an SMTP delivery (IDLE does not poll: it is told)."""
    imap = imaplib.IMAP4("127.0.0.1", srv.ports["IMAP"])
    try:
        imap.login(address, password)
        imap.select("Inbox")
        tag = imap._new_tag()
        imap.send(tag + b" IDLE\r\n")
        assert imap.readline().startswith(b"+")
        with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=10) as smtp:
            smtp.sendmail("someone@localhost", [address], b"Subject: idle\r\n\r\nhello\r\n")
        imap.sock.settimeout(5)
        line = imap.readline()
        assert line.endswith(b" EXISTS\r\n"), line
        imap.send(b"DONE\r\n")
    finally:
        imap.shutdown()


@pytest.mark.parametrize("count", [1, 2])
def test_every_listener_works_in_one_process_or_two(new_server, count):
    srv = new_server(processes(count)).start()
    assert len(children(srv.proc.pid)) == count - 1
    idle_sees_delivery(srv)

    response = srv.call("Send", {"To": [{"Address": ADDRESS}], "Subject": f"split {count}", "Text": "hi"})
    assert response.status_code == 200, response.text
    srv.wait_for(lambda: any(m["subject"] == f"split {count}" for m in srv.messages()), 5)

    # Submitted over SMTP (the delivery process queues it; the front's queue worker delivers it).
    with smtplib.SMTP("127.0.0.1", srv.submission_port, timeout=10) as smtp:
        smtp.login(ADDRESS, PASSWORD)
        smtp.sendmail(ADDRESS, [ADDRESS], f"From: {ADDRESS}\r\nTo: {ADDRESS}\r\nSubject: submitted {count}\r\n\r\nhi\r\n")
    srv.wait_for(lambda: any(m["subject"] == f"submitted {count}" for m in srv.messages()), 5)

    assert srv.stop() == 0
    log = "".join(srv.output)
    assert "Traceback" not in log, log
    assert log.count("info server: stopped") == count


def test_an_account_added_while_running_works_across_both_processes(new_server):
    # Both processes open the new account's index for the first time: the front at the IMAP login, the
    # delivery process at the delivery.
    srv = new_server(processes(2)).start()
    out = subprocess.run([sys.executable, os.path.join(ROOT, "mox.py"), "account", "add", "bob", "bob@localhost",
                          "-password", "bobsecret1", "-config", srv.config.path],
                         capture_output=True, text=True, cwd=ROOT, timeout=30)
    assert out.returncode == 0, out.stderr
    idle_sees_delivery(srv, "bob@localhost", "bobsecret1")
    assert srv.stop() == 0
    assert "Traceback" not in "".join(srv.output)


def test_a_delivery_answered_over_smtp_is_seen_by_the_next_imap_command(new_server):
    # The front process is stopped while the delivery process takes a message and the client sends NOOP:
    # when the front runs again, the delivery process's change and the NOOP wait side by side, and the
    # NOOP must be answered with the message the client knows was delivered. (EXAMINE: a read-only
    # session claims no \Recent, so the front writes nothing that the stop could leave half done.)
    srv = new_server(processes(2)).start()
    front = srv.proc.pid
    imap = imaplib.IMAP4("127.0.0.1", srv.ports["IMAP"])
    try:
        imap.login(ADDRESS, PASSWORD)
        _, [count] = imap.select("Inbox", readonly=True)
        for attempt in range(3):
            os.kill(front, signal.SIGSTOP)
            try:
                with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=10) as smtp:
                    smtp.sendmail("someone@localhost", [ADDRESS], b"Subject: seen\r\n\r\nhello\r\n")
                imap.send(b"N%d NOOP\r\n" % attempt)
                time.sleep(0.1)
            finally:
                os.kill(front, signal.SIGCONT)
            lines = []
            while not lines or not lines[-1].startswith(b"N%d " % attempt):
                lines.append(imap.readline())
            assert b"* %d EXISTS\r\n" % (int(count) + attempt + 1) in lines, lines
    finally:
        imap.shutdown()
    assert srv.stop() == 0


def socket_inodes(pid: int) -> set[str]:
    found = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            found.add(target[8:-1])
    return found


def connection_inode(local_port: int, remote_port: int) -> str:
    """The inode of the server's end of an IPv4 loopback connection (from /proc/net/tcp)."""
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if (int(fields[1].split(":")[1], 16), int(fields[2].split(":")[1], 16)) == (local_port, remote_port):
                return fields[9]
    raise AssertionError(f"no connection from port {remote_port}")


def refused(port: int) -> bool:
    """Whether a new webapi connection is refused: the server says 503 before any request."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.settimeout(1)
        try:
            return sock.recv(64).startswith(b"HTTP/1.1 503")
        except TimeoutError:
            return False


def test_both_processes_serve_webapi_connections_within_one_cap(new_server):
    import base64
    import http.client
    import urllib.parse

    def configure(config):
        config.Processes = 2
        config.MaxConnectionsPerIP = 6

    srv = new_server(configure).start()
    front, delivery = srv.proc.pid, children(srv.proc.pid)[0]
    port = srv.ports["WebAPIHTTP"]
    headers = {"Authorization": "Basic " + base64.b64encode(f"{ADDRESS}:{PASSWORD}".encode()).decode(),
               "Content-Type": "application/x-www-form-urlencoded"}
    body = urllib.parse.urlencode({"request": "{}"})

    def call(conn: http.client.HTTPConnection) -> int:
        conn.request("POST", "/webapi/v0/MailboxList", body, headers)
        response = conn.getresponse()
        response.read()
        return response.status

    def status(conn: http.client.HTTPConnection) -> int:
        """call's status, 0 when the server closed the connection (a refused one is closed at once)."""
        try:
            return call(conn)
        except OSError:
            return 0

    conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=30) for _ in range(6)]
    try:
        assert [call(conn) for conn in conns] == [200] * 6
        # Each connection is served by one of the processes, the one holding fewer at the time (a connection
        # of the start-up checks may not have closed yet, so the turns can be off by one).
        def holding() -> list[list[int]]:
            sockets = {pid: socket_inodes(pid) for pid in (front, delivery)}
            inodes = [connection_inode(port, conn.sock.getsockname()[1]) for conn in conns]
            return [[pid for pid, held in sockets.items() if inode in held] for inode in inodes]

        # The front closes its copy of a passed descriptor just after passing it, which may be a moment
        # after the delivery process answered on it.
        holders = srv.wait_for(lambda: (found := holding()) and all(len(h) == 1 for h in found) and found)
        assert 2 <= holders.count([delivery]) <= 4 and holders.count([front]) + holders.count([delivery]) == 6, \
            (holders, front, delivery)
        assert [call(conn) for conn in conns] == [200] * 6  # and keep serving them

        # The cap counts the connections of both processes: the 7th is refused as it connects.
        assert refused(port)
        # Closing connections the delivery process serves gives their slots back.
        for conn, holder in zip(conns, holders):
            if holder == [delivery]:
                conn.close()
        gone = holders.count([delivery])

        def all_served() -> bool:
            more = [http.client.HTTPConnection("127.0.0.1", port, timeout=30) for _ in range(gone)]
            try:
                return [status(conn) for conn in more] == [200] * gone
            finally:
                for conn in more:
                    conn.close()

        srv.wait_for(all_served)
    finally:
        for conn in conns:
            conn.close()
    assert "Traceback" not in "".join(srv.output)


def test_killing_the_server_kills_both_processes(new_server):
    srv = new_server(processes(2)).start()
    front = srv.proc.pid
    [delivery] = children(front)
    srv.kill()
    deadline = time.monotonic() + 5
    while alive(delivery) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not alive(delivery)
    # Its ports are free again: the server starts at once on the same ones.
    srv.start()
    idle_sees_delivery(srv)


def test_the_server_stops_with_an_error_when_the_delivery_process_dies(new_server):
    srv = new_server(processes(2)).start()
    [delivery] = children(srv.proc.pid)
    os.kill(delivery, signal.SIGKILL)
    assert srv.proc.wait(15) == 1
    assert "error server: the delivery process ended; stopping the server" in "".join(srv.output)


def test_interrupt_stops_both_processes_cleanly(new_server):
    # As Ctrl-C in a terminal: SIGINT to the whole process group.
    srv = new_server(processes(2))
    srv.proc = None
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "mox.py"), "localserve", "-dir", srv.directory],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
                            start_new_session=True, preexec_fn=interruptible)
    try:
        for line in proc.stdout:
            if "localserve ready" in line:
                break
        [delivery] = children(proc.pid)
        os.killpg(proc.pid, signal.SIGINT)
        output = proc.communicate(timeout=15)[0]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0
    assert not alive(delivery)
    assert "Traceback" not in output, output


@pytest.mark.parametrize("count", [1, 2])
def test_signals_repeated_during_the_shutdown_stop_it_once(new_server, count):
    # A service manager, or an impatient user, may signal again while the server is stopping.
    srv = new_server(processes(count)).start()
    srv.call("Send", {"To": [{"Address": ADDRESS}], "Subject": "before", "Text": "hi"})
    for sig in (signal.SIGTERM, signal.SIGTERM, signal.SIGINT, signal.SIGTERM):
        try:
            os.kill(srv.proc.pid, sig)
        except ProcessLookupError:
            break
    assert srv.proc.wait(15) == 0
    srv.wait_for(lambda: "".join(srv.output).count("info server: stopped") == count, 5)  # the rest of the pipe
    log = "".join(srv.output)
    assert "Traceback" not in log, log


def test_a_port_in_use_stops_the_start_before_any_process_is_forked(new_server):
    srv = new_server(processes(2))
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", srv.smtp_port))
        taken.listen()
        proc = subprocess.run([sys.executable, os.path.join(ROOT, "mox.py"), "localserve", "-dir", srv.directory],
                              capture_output=True, text=True, cwd=ROOT, timeout=30)
    assert proc.returncode == 1
    assert f"mox: cannot start: cannot listen for smtp on 127.0.0.1:{srv.smtp_port}" in proc.stderr


def test_processes_setting_is_checked():
    with pytest.raises(configlib.ConfigError, match="Processes: 3 must be 0"):
        configlib.validate(configlib.Config(Processes=3))

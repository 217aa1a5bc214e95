"""The whole server on PostgreSQL (Storage = "postgresql"): localserve with
both of its processes keeps mailboxes, messages and the queue in a real
PostgreSQL and nothing under its data directory, and real clients see one
mail server: a Send is delivered to the Inbox through the SMTP listener, an
SMTP delivery reaches an IDLE session, flags set over IMAP are what the
webapi shows, everything is still there after a restart, and a SIGKILL
during Sends loses and duplicates nothing."""

import imaplib
import os
import smtplib

import pytest

from .localserve import ADDRESS, PASSWORD
from .queue.test_queue_crash import assert_delivered_exactly_once, crash_round


@pytest.fixture
def pg_server(new_server, pg_dsn):
    def configure(config):
        config.Storage = "postgresql"
        config.PostgreSQL.DSN = pg_dsn
        config.Queue.BackoffFirst = 0.5

    return new_server(configure)


def inbox_subjects(imap: imaplib.IMAP4) -> list[str]:
    imap.noop()
    typ, [uids] = imap.uid("SEARCH", "ALL")
    assert typ == "OK"
    if not uids:
        return []
    typ, data = imap.uid("FETCH", b",".join(uids.split()).decode(), "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert typ == "OK"
    return [item[1].decode().split(":", 1)[1].strip() for item in data if isinstance(item, tuple)]


def test_send_smtp_imap_and_a_restart_on_postgresql(pg_server):
    srv = pg_server.start()
    response = srv.call("Send", {"To": [{"Address": ADDRESS}], "Subject": "over postgresql", "Text": "hi"})
    assert response.status_code == 200, response.text
    imap = imaplib.IMAP4("127.0.0.1", srv.ports["IMAP"])
    imap.login(ADDRESS, PASSWORD)
    imap.select("Inbox")
    srv.wait_for(lambda: "over postgresql" in inbox_subjects(imap), 15)

    # An SMTP delivery reaches an IDLE session at once.
    tag = imap._new_tag()
    imap.send(tag + b" IDLE\r\n")
    assert imap.readline().startswith(b"+")
    with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=10) as smtp:
        smtp.sendmail("someone@localhost", [ADDRESS], b"Subject: idle on postgresql\r\n\r\nhello\r\n")
    imap.sock.settimeout(10)
    assert imap.readline().endswith(b" EXISTS\r\n")
    imap.send(b"DONE\r\n")
    while not imap.readline().startswith(tag):
        pass
    imap.sock.settimeout(None)

    # Flags set over IMAP are stored (keywords in lower case, as mox keeps them).
    typ, [uids] = imap.uid("SEARCH", "SUBJECT", "\"idle on postgresql\"")
    uid = uids.split()[-1].decode()
    assert imap.uid("STORE", uid, "+FLAGS", "(\\Flagged $Important)")[0] == "OK"
    [row] = [m for m in srv.messages() if m["subject"] == "idle on postgresql"]
    assert "\\Flagged" in row["flags"] and "$important" in row["flags"]
    imap.logout()

    # Nothing of it is under the data directory: no account index, no mox.db.
    data = srv.config.data_dir()
    assert not os.path.exists(os.path.join(data, "mox.db"))
    assert not os.path.exists(os.path.join(data, "accounts", "mox", "index.db"))

    assert srv.stop() == 0
    log = "".join(srv.output)
    assert "Traceback" not in log, log
    srv.start()
    imap = imaplib.IMAP4("127.0.0.1", srv.ports["IMAP"])
    imap.login(ADDRESS, PASSWORD)
    imap.select("Inbox")
    assert {"over postgresql", "idle on postgresql"} <= set(inbox_subjects(imap))
    typ, [again] = imap.uid("SEARCH", "SUBJECT", "\"idle on postgresql\"")
    assert again.split()[-1].decode() == uid  # the same UID after the restart
    imap.logout()
    assert srv.stop() == 0


@pytest.mark.slow
def test_sigkill_during_sends_on_postgresql_loses_and_duplicates_nothing(pg_server):
    outcomes: dict[str, str] = {}
    counter = [0]
    pg_server.start()
    crash_round(pg_server, outcomes, counter, 40)
    pg_server.start()
    assert_delivered_exactly_once(pg_server, outcomes, at_least=40)


def test_an_unreachable_database_is_one_line_without_the_password(new_server):
    import subprocess
    import sys

    from .localserve import ROOT, free_ports

    [closed] = free_ports(1)  # nothing listens there

    def configure(config):
        config.Storage = "postgresql"
        config.PostgreSQL.DSN = f"host=127.0.0.1 port={closed} dbname=mox user=mox password=hunter2secret"

    srv = new_server(configure)
    out = subprocess.run([sys.executable, os.path.join(ROOT, "mox.py"), "localserve", "-dir", srv.directory],
                         capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 1
    output = out.stdout + out.stderr
    assert "mox: cannot start: connection failed" in output
    assert output.count("mox: cannot start") == 1  # said once, not by each process
    assert "Traceback" not in output
    assert "hunter2secret" not in output

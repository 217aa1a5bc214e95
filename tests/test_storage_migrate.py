"""`mox.py storage migrate -to postgresql`: a server's data made on SQLite
by real clients (Sends, an SMTP delivery, IMAP flags and a new mailbox, a
held queue entry with its message in a file, a webapi token) is moved into
an empty PostgreSQL database, and the server started on it shows IMAP
clients the same mailboxes, UIDs, UIDVALIDITY, modseqs, flags and bytes;
the held entry is still queued, the token works, and the next delivery
gets the next UID. The command refuses a running server, a database that
is not empty, a DSN it cannot connect to and a directory without data."""

import hashlib
import imaplib
import json
import os
import re
import smtplib
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from moxpy.config import save
from moxpy.store import migrations
from moxpy.store import backend
from moxpy.store.queue import EntryFilter
from moxpy.store.sqlite import schema, serverdb

from .localserve import ADDRESS, PASSWORD, ROOT


def on_sqlite(config) -> None:
    """The server migrate copies from is on SQLite, also when the suite runs on PostgreSQL."""
    config.Storage, config.PostgreSQL.DSN = "sqlite", ""


def mox(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, os.path.join(ROOT, "mox.py"), *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def migrate(srv, *extra: str) -> subprocess.CompletedProcess:
    return mox("storage", "migrate", "-to", "postgresql", "-config", srv.config.path, *extra)


def imap_state(srv) -> dict:
    """Every mailbox as an IMAP client sees it: its STATUS, and per UID the flags, modseq and a digest of the bytes."""
    imap = imaplib.IMAP4("127.0.0.1", srv.ports["IMAP"])
    imap.login(ADDRESS, PASSWORD)
    imap.enable("CONDSTORE")
    typ, listed = imap.list()
    assert typ == "OK"
    state = {}
    for line in listed:
        name = line.decode().rsplit(' "/" ', 1)[1].strip('"')
        typ, [status] = imap.status(f'"{name}"', "(MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ)")
        assert typ == "OK"
        imap.select(f'"{name}"', readonly=True)
        messages = {}
        typ, data = imap.uid("FETCH", "1:*", "(UID FLAGS MODSEQ)")
        for line in data:
            if line:
                uid = re.search(rb"UID (\d+)", line).group(1).decode()
                flags = sorted(re.search(rb"FLAGS \(([^)]*)\)", line).group(1).decode().split())
                modseq = re.search(rb"MODSEQ \((\d+)\)", line).group(1).decode()
                messages[uid] = [flags, modseq]
        typ, data = imap.uid("FETCH", "1:*", "(BODY.PEEK[])")
        for item in data:
            if isinstance(item, tuple):
                uid = re.search(rb"UID (\d+)", item[0]).group(1).decode()
                messages[uid].append(hashlib.sha256(item[1]).hexdigest())
        state[name] = (status.decode().split("(", 1)[1], messages)
    imap.logout()
    return state


def bearer(srv, token: str, method: str, request: dict) -> httpx.Response:
    return httpx.post(srv.base_url + method, data={"request": json.dumps(request)},
                      headers={"Authorization": f"Bearer {token}"}, timeout=30)


def queue_list(srv) -> str:
    """`mox queue list`, without the times left until attempts (they go on while the test runs)."""
    out = mox("queue", "list", "-config", srv.config.path)
    assert out.returncode == 0, out.stderr
    return re.sub(r"in \d[\dhms]*", "in ...", out.stdout)


def queued_messages(srv) -> dict[int, bytes]:
    """The message of each queued entry, read from the (stopped) server's database."""
    db = backend.server_database(srv.config)
    try:
        return {e.id: db.queue.message(e) for e in db.queue.queued(EntryFilter())}
    finally:
        db.close()


def found_by_words(srv) -> list[tuple[int, str]]:
    response = srv.call("MessageSearch", {"Body": "elan hello"})
    assert response.status_code == 200, response.text
    return sorted((m["MsgID"], m["MailboxName"]) for m in response.json()["Messages"])


def ids_with_subject(srv, subject: str) -> list[int]:
    response = srv.call("MessageSearch", {"Subject": f'"{subject}"'})
    assert response.status_code == 200, response.text
    return [m["MsgID"] for m in response.json()["Messages"]]


def use_postgresql(srv, dsn: str) -> None:
    srv.config.Storage = "postgresql"
    srv.config.PostgreSQL.DSN = dsn
    save(srv.config)


def make_data(srv) -> dict:
    """Real data of every kind on the running server; what to find again after the move."""
    for i in range(3):
        response = srv.call("Send", {"To": [{"Address": ADDRESS}], "Subject": f"sent {i}", "Text": f"hello {i} élan"})
        assert response.status_code == 200, response.text
    with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=10) as smtp:
        smtp.sendmail("someone@localhost", [ADDRESS], b"Subject: by smtp\r\n\r\nwords\r\n")
    imap = imaplib.IMAP4("127.0.0.1", srv.ports["IMAP"])
    imap.login(ADDRESS, PASSWORD)
    imap.select("Inbox")
    srv.wait_for(lambda: len(imap.uid("SEARCH", "ALL")[1][0].split()) >= 4, 20)
    assert imap.create("Projects")[0] == "OK"

    def uid(subject: str) -> str:
        [found] = imap.uid("SEARCH", "SUBJECT", f'"{subject}"')[1][0].split()
        return found.decode()

    assert imap.uid("STORE", uid("sent 0"), "+FLAGS", "(\\Seen $Important)")[0] == "OK"
    assert imap.uid("COPY", uid("sent 1"), "Projects")[0] == "OK"
    assert imap.uid("STORE", uid("sent 2"), "+FLAGS", "(\\Deleted)")[0] == "OK"
    assert imap.expunge()[0] == "OK"
    # The newest message removed: its id is not to be given again (SQLite's AUTOINCREMENT, a sequence after).
    assert imap.append("Projects", None, None, b"Subject: gone soon\r\n\r\nbye\r\n")[0] == "OK"
    [gone] = ids_with_subject(srv, "gone soon")
    imap.select("Projects")
    assert imap.uid("STORE", uid("gone soon"), "+FLAGS", "(\\Deleted)")[0] == "OK"
    assert imap.expunge()[0] == "OK"
    imap.logout()

    later = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    big = "a line of a message too large for the queue's database rows\n" * 2000  # kept in a file
    queued = {}
    for subject, text in (("held small", "hi"), ("held big", big)):
        response = srv.call("Send", {"To": [{"Address": "later@example.com"}], "Subject": subject, "Text": text,
                                     "FutureRelease": later})
        assert response.status_code == 200, response.text
        queued[subject] = response.json()["Submissions"][0]["QueueMsgID"]
    held = mox("queue", "hold", "-ids", str(queued["held small"]), "-config", srv.config.path)
    assert "1 message(s) put on hold" in held.stdout, held.stderr

    response = srv.call("TokenCreate", {"Scopes": ["read"], "Name": "moved"})
    assert response.status_code == 200, response.text
    return {"queued": queued, "token": response.json()["Token"], "gone": gone}


@pytest.mark.slow
def test_a_server_moved_to_postgresql_looks_the_same_to_its_clients(new_server, pg_dsn):
    srv = new_server(on_sqlite)
    srv.start()
    made = make_data(srv)
    before = imap_state(srv)
    words_before = found_by_words(srv)
    assert [box for _, box in words_before] == ["Inbox", "Inbox", "Projects"]  # two Sends and a copy
    queue_before = queue_list(srv)
    assert srv.stop() == 0
    assert any(os.scandir(os.path.join(srv.config.data_dir(), "queue")))  # the big one is a file
    queued_before = queued_messages(srv)
    assert len(queued_before) == 2

    out = migrate(srv, "-dsn", pg_dsn)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "copied and verified: 1 accounts, 4 messages, 2 queue entries" in out.stdout, out.stdout
    assert 'Storage = "postgresql"' in out.stdout
    assert schema_versions(srv.config.data_dir(), pg_dsn) == (serverdb.MIGRATIONS.latest, schema.MIGRATIONS.latest)

    use_postgresql(srv, pg_dsn)
    srv.start()
    assert imap_state(srv) == before
    queue_after = queue_list(srv)
    assert queue_after == queue_before and "on hold" in queue_after
    for subject, queue_id in made["queued"].items():
        assert f"{queue_id} " in queue_after, subject

    response = bearer(srv, made["token"], "MailboxList", {})
    assert response.status_code == 200 and "Projects" in response.text, response.text
    assert bearer(srv, made["token"] + "x", "MailboxList", {}).status_code == 401  # a token is checked

    assert queued_messages(srv) == queued_before

    # A new delivery gets the Inbox's next UID.
    uidnext = int(re.search(r"UIDNEXT (\d+)", before["INBOX"][0]).group(1))
    with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=10) as smtp:
        smtp.sendmail("someone@localhost", [ADDRESS], b"Subject: after the move\r\n\r\nhi\r\n")
    imap = imaplib.IMAP4("127.0.0.1", srv.ports["IMAP"])
    imap.login(ADDRESS, PASSWORD)
    imap.select("Inbox")
    found = srv.wait_for(lambda: imap.uid("SEARCH", "SUBJECT", '"after the move"')[1][0].split(), 20)
    assert found == [str(uidnext).encode()]
    [new_id] = ids_with_subject(srv, "after the move")
    assert new_id > made["gone"]
    imap.logout()
    # Words are found as before: the full-text rows were moved too.
    assert found_by_words(srv) == words_before
    assert srv.stop() == 0
    assert "Traceback" not in "".join(srv.output)


@pytest.mark.slow
def test_refuses_a_running_server_a_used_database_and_a_bad_dsn(new_server, pg_dsn, postgresql):
    srv = new_server(on_sqlite)
    srv.start()
    response = srv.call("Send", {"To": [{"Address": ADDRESS}], "Subject": "one", "Text": "hi"})
    assert response.status_code == 200, response.text
    running = migrate(srv, "-dsn", pg_dsn)
    assert running.returncode == 1 and "stop the server first" in running.stderr, running.stderr
    assert running.stderr.count("\n") == 1 and "Traceback" not in running.stderr
    srv.stop()

    wrong = pg_dsn + " password=sekrit-pw port=1"
    bad = migrate(srv, "-dsn", wrong)
    assert bad.returncode == 1 and "cannot connect to PostgreSQL" in bad.stderr, bad.stderr
    assert "sekrit-pw" not in bad.stderr and bad.stderr.count("\n") == 1

    garbled = migrate(srv, "-dsn", "host=")
    assert garbled.returncode == 1 and "Traceback" not in garbled.stderr, garbled.stderr

    assert migrate(srv, "-dsn", pg_dsn).returncode == 0
    again = migrate(srv, "-dsn", pg_dsn)
    assert again.returncode == 1 and "not empty" in again.stderr, again.stderr
    assert again.stderr.count("\n") == 1


def schema_versions(data_dir: str, dsn: str) -> tuple[int, int]:
    """The schema versions of the server database and of account mox, the same on both sides."""
    from moxpy.store.pg.accounts import schema_dsn, schema_name
    from moxpy.store.pg.db import connect

    found = []
    for path, pg in ((os.path.join(data_dir, "mox.db"), dsn),
                     (os.path.join(data_dir, "accounts", "mox", "index.db"), schema_dsn(dsn, schema_name("mox")))):
        src = sqlite3.connect(path)
        dst = connect(pg)
        sqlite_side, pg_side = migrations.applied(src), migrations.applied(dst)
        src.close()
        dst.close()
        assert sqlite_side == pg_side
        found.append(sqlite_side[-1][0])
    return found[0], found[1]


@pytest.mark.sqlite_only
def test_refuses_a_data_directory_of_a_newer_version_and_leaves_postgresql_empty(new_server, pg_dsn):
    srv = new_server()
    srv.start()
    assert srv.stop() == 0
    with sqlite3.connect(os.path.join(srv.config.data_dir(), "mox.db")) as conn:
        conn.execute("insert into schema_migrations (version, name, applied) values (50, 'newer', 0)")
    conn.close()
    out = migrate(srv, "-dsn", pg_dsn)
    assert out.returncode == 1 and "schema version 50, newer than this program's" in out.stderr, out.stderr
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    from moxpy.store.pg.db import connect

    conn = connect(pg_dsn)
    assert conn.execute("select to_regclass('queue')").fetchone()[0] is None  # nothing made
    conn.close()


def test_refuses_a_data_directory_without_a_server_database(new_server, pg_dsn):
    srv = new_server(on_sqlite)  # never started: nothing under its data directory
    out = migrate(srv, "-dsn", pg_dsn)
    assert out.returncode == 1 and "no server database" in out.stderr, out.stderr

"""Where the queue keeps a message's bytes: up to INLINE_MAX in the server
database, larger ones in a file under data/queue/. For both kinds: a Send
is delivered byte for byte as queued, a failure's DSN quotes it, retiring
and dropping remove the bytes, retired entries are kept for
KeepRetiredMessagePeriod and then forgotten, and a data directory whose
queue has only files (as made before small messages went into the
database) still delivers.

Messages are held back with a FutureRelease so their queued bytes can be
read before `mox.py queue kick` lets them go.
"""

import os
import secrets
import sqlite3
import time
from datetime import datetime, timedelta, timezone

import pytest

from moxpy.message import dsn as dsnlib
from moxpy.store.sqlite.queue import INLINE_MAX

from .. import storehelp
from ..localserve import LocalServer
from ..queuehelp import message, mox, queued, retired, retired_entries, send
from ..serverdbhelp import execute

SMALL = "a short message\n"
LARGE = "a line of a message that is too large for the database\n" * 2000  # about 110 KB

SHORT_KEEP = 1.0  # seconds, a KeepRetiredMessagePeriod that has passed by the time the server restarts


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = LocalServer(str(tmp_path_factory.mktemp("queuemessages"))).start()
    yield srv
    srv.stop()


def later() -> str:
    return (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat().replace("+00:00", "Z")


def queue_files(server) -> set[str]:
    """The message files under data/queue/, as paths relative to it."""
    root = os.path.join(server.config.data_dir(), "queue")
    return {os.path.relpath(os.path.join(d, f), root) for d, _, names in os.walk(root) for f in names}


def rows_in_database(server) -> int:
    """How many messages the server database holds bytes of."""
    return execute(server.config, "select count(*) from queue_messages")[0][0]


def hold_back(server, subject: str, text: str, to: str = "mox@localhost", **kwargs):
    """Send with a FutureRelease; return the queue entry and its message as queued."""
    result = send(server, {"To": [{"Address": to}], "Subject": subject, "Text": text, "FutureRelease": later()},
                  **kwargs)
    [entry] = queued(server, ids=[result["Submissions"][0]["QueueMsgID"]])
    return entry, message(server, entry)


def inbox(server, subject: str) -> list[dict]:
    return [m for m in server.messages() if m["subject"] == subject and not m["dsn"]]


def assert_delivered_as_queued(server, subject: str, queued_bytes: bytes) -> None:
    """The Inbox has one message with this subject: the queued bytes behind the trace headers the delivery
    listener adds, and nothing else."""
    [row] = server.wait_for(lambda: inbox(server, subject), 20)
    stored = server.message_file(row)
    assert stored.endswith(queued_bytes)
    added = stored[:len(stored) - len(queued_bytes)]
    assert added.endswith(b"\r\n") and b"\r\n\r\n" not in added
    assert all(line[:1] in b" \t" or b":" in line for line in added.split(b"\r\n")[:-1])


def gone(server, entry) -> bool:
    try:
        message(server, entry)
    except OSError:
        return True
    return False


def test_small_send_is_kept_in_the_database_and_delivered_byte_for_byte(server):
    files, rows = queue_files(server), rows_in_database(server)
    entry, data = hold_back(server, "small one", SMALL)
    assert len(data) <= INLINE_MAX
    assert queue_files(server) == files  # no file for it
    assert rows_in_database(server) == rows + 1

    mox(server, "queue", "kick", "-ids", str(entry.id))
    assert_delivered_as_queued(server, "small one", data)
    assert server.wait_for(lambda: retired(server, entry.id)).event == "delivered"
    # The bytes went with the entry that retired.
    assert rows_in_database(server) == rows
    assert gone(server, entry)


@pytest.mark.sqlite_only  # a large message in a file: on PostgreSQL every message is in the database
def test_large_send_goes_to_a_file_and_is_delivered_byte_for_byte(server):
    files, rows = queue_files(server), rows_in_database(server)
    entry, data = hold_back(server, "large one", LARGE)
    assert len(data) > INLINE_MAX
    [new] = queue_files(server) - files
    with open(os.path.join(server.config.data_dir(), "queue", new), "rb") as f:
        assert f.read() == data
    assert rows_in_database(server) == rows

    mox(server, "queue", "kick", "-ids", str(entry.id))
    assert_delivered_as_queued(server, "large one", data)
    assert server.wait_for(lambda: retired(server, entry.id)).event == "delivered"
    server.wait_for(lambda: queue_files(server) == files)
    assert gone(server, entry)


def test_one_message_to_several_recipients_is_stored_once_and_removed_with_the_last(server):
    for text in (SMALL, LARGE):
        files, rows = queue_files(server), rows_in_database(server)
        result = send(server, {"To": [{"Address": "one@example.com"}, {"Address": "two@example.com"}],
                               "Subject": "to two", "Text": text, "FutureRelease": later()})
        first, second = [s["QueueMsgID"] for s in result["Submissions"]]
        stored = len(queue_files(server) - files) + rows_in_database(server) - rows
        assert stored == 1
        [entry] = queued(server, ids=[first])
        data = message(server, entry)

        mox(server, "queue", "kick", "-ids", str(first))
        server.wait_for(lambda: retired(server, first))
        # The other recipient's entry still has the message.
        [other] = queued(server, ids=[second])
        assert other.path == entry.path and message(server, other) == data

        mox(server, "queue", "kick", "-ids", str(second))
        server.wait_for(lambda: retired(server, second))
        server.wait_for(lambda: queue_files(server) == files)
        assert rows_in_database(server) == rows


def test_failure_dsn_quotes_the_message_of_either_kind(server):
    for kind, text in (("small", SMALL), ("large", LARGE)):
        subject, to = f"{kind} bounce", f"{kind}-permerror@example.com"  # one address each: the first suppresses
        entry, _ = hold_back(server, subject, text, to=to)
        mox(server, "queue", "kick", "-ids", str(entry.id))
        assert server.wait_for(lambda: retired(server, entry.id)).event == "failed"

        def dsn():
            for m in server.messages():
                if m["dsn"]:
                    data = server.message_file(m)
                    if f"Subject: {subject}".encode() in data:
                        return data
            return None

        report = dsnlib.parse(server.wait_for(dsn, 20))
        assert report.recipients[0].final_recipient == to
        assert gone(server, entry)


@pytest.mark.sqlite_only  # a large message in a file: on PostgreSQL every message is in the database
def test_drop_removes_the_bytes_of_either_kind(server):
    files, rows = queue_files(server), rows_in_database(server)
    small, _ = hold_back(server, "drop small", SMALL, to="dropped@example.org")
    large, _ = hold_back(server, "drop large", LARGE, to="dropped@example.org")
    assert rows_in_database(server) == rows + 1 and len(queue_files(server) - files) == 1

    assert "2 message(s) dropped" in mox(server, "queue", "drop", "-to", "dropped@example.org").stdout
    assert rows_in_database(server) == rows
    assert queue_files(server) == files
    for entry in (small, large):
        assert retired(server, entry.id).event == "canceled"
        assert gone(server, entry)


@pytest.mark.slow
def test_retired_entries_are_kept_for_the_period_then_forgotten(new_server):
    from moxpy.config import save

    server = new_server(lambda c: setattr(c.Accounts["mox"], "KeepRetiredMessagePeriod", SHORT_KEEP))
    server.start()

    def deliver_both(tag: str) -> list[int]:
        """Send a small and a large message and wait until both are delivered; their queue ids."""
        ids = []
        for kind, text in (("small", SMALL), ("large", LARGE)):
            result = send(server, {"To": [{"Address": "mox@localhost"}], "Subject": f"{tag} {kind}", "Text": text})
            ids.append(result["Submissions"][0]["QueueMsgID"])
        for queue_id in ids:
            done = server.wait_for(lambda: retired(server, queue_id), 20)
            assert done.event == "delivered"
            # Kept without its message.
            assert gone(server, done)
        return ids

    expiring = deliver_both("expiring")
    # Entries retired from now on are kept for long; a running server reads the changed config.
    server.config.Accounts["mox"].KeepRetiredMessagePeriod = 3600.0
    save(server.config)
    kept = deliver_both("kept")
    for queue_id in kept:
        assert retired(server, queue_id).keep_until > time.time() + 3000
    time.sleep(SHORT_KEEP)

    # The worker cleans up when it starts.
    server.stop()
    server.start()
    server.wait_for(lambda: not {r.id for r in retired_entries(server)} & set(expiring), 20)
    assert {r.id for r in retired_entries(server)} >= set(kept)
    assert rows_in_database(server) == 0 and queue_files(server) == set()


@pytest.mark.slow
@pytest.mark.sqlite_only  # makes a SQLite data directory of an older version
def test_a_queue_of_files_from_before_still_delivers(new_server):
    server = new_server().start()
    entry, data = hold_back(server, "from before", SMALL)
    server.stop()

    # Make it the data directory an older version left: the message in a
    # file of its own, and no queue_messages table.
    name = secrets.token_hex(12)
    relpath = os.path.join(name[:2], name)
    path = os.path.join(server.config.data_dir(), "queue", relpath)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    conn = sqlite3.connect(os.path.join(server.config.data_dir(), "mox.db"))
    with conn:
        conn.execute("update queue set path = ? where path = ?", (relpath, entry.path))
        conn.execute("drop table queue_messages")
        storehelp.as_before_versions(conn)
    conn.close()

    server.start()
    assert rows_in_database(server) == 0  # the table is back, empty
    [upgraded] = queued(server, ids=[entry.id])
    assert upgraded.path == relpath and message(server, upgraded) == data
    mox(server, "queue", "kick", "-ids", str(entry.id))
    assert_delivered_as_queued(server, "from before", data)
    assert server.wait_for(lambda: retired(server, entry.id)).event == "delivered"
    server.wait_for(lambda: not os.path.exists(path))

    # New small messages go into the database.
    entry, data = hold_back(server, "after the upgrade", SMALL)
    assert rows_in_database(server) == 1 and queue_files(server) == set()
    mox(server, "queue", "kick", "-ids", str(entry.id))
    assert_delivered_as_queued(server, "after the upgrade", data)

"""An account index from before mailbox keywords, \\Recent claims and the
Date header's day were stored: opening it fills them in, so IMAP shows the
keywords in FLAGS, finds SENTON by the header's day, and takes the messages
already there as seen by an earlier session (not recent)."""

import os
import sqlite3

import pytest

from .. import storehelp
from ..imapclient import Raw

MESSAGE = b"From: old@example.org\r\nSubject: from before\r\nDate: Sun, 25 Mar 2007 00:30:00 +1400\r\n\r\nx\r\n"


@pytest.mark.sqlite_only  # makes a SQLite index of an older version
def test_index_from_before_is_filled_in(new_server):
    srv = new_server().start()
    raw = Raw(srv.ports["IMAP"])
    raw.login()
    _, tagged = raw.command(b"APPEND INBOX (Oldlabel) {%d+}\r\n" % len(MESSAGE) + MESSAGE)
    assert b" OK " in tagged
    raw.close()
    srv.stop()

    path = os.path.join(srv.config.data_dir(), "accounts", "mox", "index.db")
    conn = sqlite3.connect(path)
    storehelp.as_before_versions(conn)
    for table, column in (("mailboxes", "keywords"), ("mailboxes", "recent_uid"), ("messages", "sent_day")):
        conn.execute(f"alter table {table} drop column {column}")
    conn.commit()
    conn.close()

    srv.start()
    raw = Raw(srv.ports["IMAP"])
    raw.login()
    untagged, tagged = raw.command(b"SELECT INBOX")
    assert b" OK " in tagged
    assert any(line.startswith(b"* FLAGS (") and line.endswith(b" oldlabel)") for line in untagged), untagged
    assert b"* 0 RECENT" in untagged
    untagged, _ = raw.command(b"SEARCH SENTON 25-Mar-2007")
    assert untagged == [b"* SEARCH 1"]
    raw.close()

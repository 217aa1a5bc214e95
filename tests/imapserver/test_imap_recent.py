"""\\Recent (RFC 3501 2.3.2): recent in the first session that sees a message
and in no other; EXAMINE shows it without taking it; it survives a restart.
And the untagged FLAGS update every session with the mailbox selected gets
when a STORE or APPEND brings a new keyword into it."""

import re
import smtplib

from .. import storehelp
from ..imapclient import Raw


def session(server) -> Raw:
    raw = Raw(server.ports["IMAP"])
    raw.login()
    return raw


def ok(raw: Raw, command: bytes) -> list[bytes]:
    untagged, tagged = raw.command(command)
    assert b" OK " in tagged, (command, tagged)
    return untagged


def append(raw: Raw, mailbox: bytes, subject: str, flags: bytes = b"") -> None:
    body = f"From: recent@example.org\r\nSubject: {subject}\r\n\r\nx\r\n".encode()
    ok(raw, b"APPEND " + mailbox + (b" (" + flags + b")" if flags else b"") + b" {%d+}\r\n" % len(body) + body)


def recent_count(lines: list[bytes]) -> int:
    return int(next(line.split()[1] for line in lines if line.endswith(b" RECENT")))


def search(raw: Raw, key: bytes) -> list[int]:
    untagged = ok(raw, b"UID SEARCH " + key)
    return [int(x) for x in next(line for line in untagged if line.startswith(b"* SEARCH")).split()[2:]]


def flags_of(raw: Raw, uid: int) -> bytes:
    untagged = ok(raw, b"UID FETCH %d FLAGS" % uid)
    return re.search(rb"FLAGS \(([^)]*)\)", next(line for line in untagged if b"UID %d " % uid in line)).group(1)


def test_recent_claimed_by_first_select_not_by_examine(server):
    first, second, other = session(server), session(server), session(server)
    ok(other, b"CREATE Recent1")
    for i in range(3):
        append(other, b"Recent1", f"recent {i}", b"\\Seen" if i == 0 else b"")
    assert ok(other, b"STATUS Recent1 (RECENT MESSAGES)") == [b"* STATUS Recent1 (RECENT 3 MESSAGES 3)"]

    # EXAMINE shows them as recent but leaves them for a later SELECT (RFC 3501 6.3.2).
    lines = ok(first, b"EXAMINE Recent1")
    assert recent_count(lines) == 3
    uids = search(first, b"ALL")
    assert b"\\Recent" in flags_of(first, uids[0])
    assert search(first, b"RECENT") == uids
    ok(first, b"CLOSE")
    assert ok(other, b"STATUS Recent1 (RECENT)") == [b"* STATUS Recent1 (RECENT 3)"]

    # The first SELECT takes them: RECENT 3, \Recent in FETCH, SEARCH RECENT/NEW/OLD.
    lines = ok(first, b"SELECT Recent1")
    assert recent_count(lines) == 3
    assert flags_of(first, uids[0]) == b"\\Seen \\Recent"
    assert flags_of(first, uids[1]) == b"\\Recent"
    assert search(first, b"RECENT") == uids
    assert search(first, b"NEW") == uids[1:]
    assert search(first, b"OLD") == []
    assert search(first, b"NOT RECENT") == []
    assert ok(other, b"STATUS Recent1 (RECENT)") == [b"* STATUS Recent1 (RECENT 0)"]

    # A later session sees none of them as recent.
    lines = ok(second, b"SELECT Recent1")
    assert recent_count(lines) == 0
    assert flags_of(second, uids[1]) == b""
    assert search(second, b"RECENT") == [] and search(second, b"NEW") == []
    assert search(second, b"OLD") == uids

    # A message arriving while both have it selected is recent in the one told first: the idler.
    first.send(b"i1 IDLE\r\n")
    assert first.line().startswith(b"+")
    append(other, b"Recent1", "recent while idle")
    assert first.line() == b"* 4 EXISTS"
    assert first.line() == b"* 4 RECENT"
    first.send(b"DONE\r\n")
    first.until(b"i1")
    new_uid = search(first, b"ALL")[-1]
    assert b"\\Recent" in flags_of(first, new_uid)
    lines = ok(second, b"NOOP")
    assert b"* 4 EXISTS" in lines and b"* 0 RECENT" in lines
    assert flags_of(second, new_uid) == b""
    assert search(second, b"RECENT") == []

    # And one arriving while only the second has it selected is recent there, seen at its next command.
    ok(first, b"UNSELECT")
    append(other, b"Recent1", "recent for second")
    lines = ok(second, b"NOOP")
    assert b"* 5 EXISTS" in lines and b"* 1 RECENT" in lines
    last = search(second, b"ALL")[-1]
    assert b"\\Recent" in flags_of(second, last)
    assert search(second, b"RECENT") == [last]
    lines = ok(first, b"SELECT Recent1")
    assert recent_count(lines) == 0
    for raw in (first, second, other):
        raw.close()


def test_recent_delivered_to_selected_inbox_and_kept_across_restart(new_server):
    srv = new_server().start()
    raw = session(srv)
    lines = ok(raw, b"SELECT INBOX")
    assert recent_count(lines) == 0
    with smtplib.SMTP("127.0.0.1", srv.smtp_port) as smtp:
        smtp.sendmail("sender@example.org", ["mox@localhost"], b"Subject: delivered\r\n\r\nhi\r\n")
    srv.wait_for(lambda: srv.messages())
    lines = ok(raw, b"NOOP")
    assert b"* 1 EXISTS" in lines and b"* 1 RECENT" in lines
    assert search(raw, b"NEW") == [1]
    raw.close()
    srv.wait_for(lambda: _claimed(srv) == 1)  # saved in the background
    srv.stop()
    srv.start()
    raw = session(srv)
    # Claimed before the restart: no longer recent for anyone.
    assert ok(raw, b"STATUS INBOX (RECENT)") == [b"* STATUS INBOX (RECENT 0)"]
    lines = ok(raw, b"SELECT INBOX")
    assert recent_count(lines) == 0
    raw.close()


def _claimed(srv) -> int:
    return storehelp.claimed_recent(srv.config.data_dir(), "mox", "Inbox", srv.config)


def test_new_keyword_announced_with_flags_to_every_session(server):
    storer, watcher, reader, appender = session(server), session(server), session(server), session(server)
    ok(appender, b"CREATE Keywords1")
    append(appender, b"Keywords1", "keyword one", b"$Label1")
    lines = ok(storer, b"SELECT Keywords1")
    assert any(line.startswith(b"* FLAGS (") and line.endswith(b" $label1)") for line in lines), lines
    assert any(b"[PERMANENTFLAGS (" in line and b" $label1 \\*)]" in line for line in lines), lines
    ok(watcher, b"SELECT Keywords1")
    ok(reader, b"EXAMINE Keywords1")

    # The storing session is told first, before the FETCH that shows the keyword.
    lines = ok(storer, b"STORE 1 +FLAGS (Project)")
    flags_at = next(i for i, line in enumerate(lines) if line.startswith(b"* FLAGS ("))
    assert lines[flags_at].endswith(b" $label1 project)"), lines
    assert b" $label1 project \\*)]" in lines[flags_at + 1] and lines[flags_at + 1].startswith(b"* OK [PERMANENTFLAGS (")
    fetch_at = next(i for i, line in enumerate(lines) if b" FETCH " in line)
    assert flags_at < fetch_at and b"project" in lines[fetch_at]

    # Other sessions at their next command; a read-only one gets no PERMANENTFLAGS.
    lines = ok(watcher, b"NOOP")
    assert any(line.startswith(b"* FLAGS (") and line.endswith(b" $label1 project)") for line in lines), lines
    assert any(line.startswith(b"* OK [PERMANENTFLAGS (") for line in lines)
    lines = ok(reader, b"NOOP")
    assert any(line.startswith(b"* FLAGS (") and line.endswith(b" $label1 project)") for line in lines), lines
    assert not any(b"PERMANENTFLAGS" in line for line in lines)

    # A keyword already known brings no FLAGS response.
    lines = ok(storer, b"STORE 1 FLAGS ($Label1)")
    assert not any(line.startswith(b"* FLAGS (") for line in lines), lines
    assert not any(line.startswith(b"* FLAGS (") for line in ok(watcher, b"NOOP"))

    # An APPEND with a new keyword, from a session without the mailbox selected, reaches an idler.
    watcher.send(b"i1 IDLE\r\n")
    assert watcher.line().startswith(b"+")
    append(appender, b"Keywords1", "keyword two", b"Later")
    assert watcher.line().endswith(b" $label1 later project)")
    assert watcher.line().startswith(b"* OK [PERMANENTFLAGS (")
    assert watcher.line() == b"* 2 EXISTS"
    watcher.send(b"DONE\r\n")
    watcher.until(b"i1")
    for raw in (storer, watcher, reader, appender):
        raw.close()

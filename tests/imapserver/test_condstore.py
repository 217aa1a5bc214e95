"""CONDSTORE (RFC 7162 3.1) over a real connection: HIGHESTMODSEQ in SELECT
and STATUS, FETCH MODSEQ and CHANGEDSINCE, STORE UNCHANGEDSINCE with
MODIFIED, SEARCH MODSEQ, MODSEQ in every FETCH response once enabled, and
modseqs given by changes over the webapi and by delivery."""

import re
import smtplib

import pytest

from ..imapclient import Raw
from ..localserve import ADDRESS


def session(server) -> Raw:
    raw = Raw(server.ports["IMAP"])
    raw.login()
    return raw


def ok(raw: Raw, command: bytes) -> list[bytes]:
    untagged, tagged = raw.command(command)
    assert b" OK " in tagged, (command, tagged)
    return untagged


def ok_tagged(raw: Raw, command: bytes) -> tuple[list[bytes], bytes]:
    untagged, tagged = raw.command(command)
    assert b" OK " in tagged, (command, tagged)
    return untagged, tagged


def bad(raw: Raw, command: bytes) -> bytes:
    _, tagged = raw.command(command)
    assert tagged.split()[1] == b"BAD", (command, tagged)
    assert b"Traceback" not in tagged and b"internal" not in tagged
    return tagged


def append(raw: Raw, mailbox: bytes, subject: str, flags: bytes = b"") -> None:
    body = f"From: cs@example.org\r\nSubject: {subject}\r\n\r\nx\r\n".encode()
    ok(raw, b"APPEND " + mailbox + (b" (" + flags + b")" if flags else b"") + b" {%d+}\r\n" % len(body) + body)


def highest(lines: list[bytes]) -> int:
    return int(next(re.search(rb"\[HIGHESTMODSEQ (\d+)\]", line).group(1) for line in lines
                    if b"[HIGHESTMODSEQ " in line))


def modseqs(lines: list[bytes]) -> dict[int, int]:
    """UID -> MODSEQ of the FETCH responses among lines."""
    found = {}
    for line in lines:
        uid, modseq = re.search(rb"\bUID (\d+)", line), re.search(rb"\bMODSEQ \((\d+)\)", line)
        if b" FETCH (" in line and uid and modseq:
            found[int(uid.group(1))] = int(modseq.group(1))
    return found


def status_highest(raw: Raw, name: bytes) -> int:
    lines = ok(raw, b"STATUS " + name + b" (HIGHESTMODSEQ)")
    (line,) = [line for line in lines if line.startswith(b"* STATUS ")]
    return int(re.search(rb"HIGHESTMODSEQ (\d+)\)", line).group(1))


def mailbox(raw: Raw, name: bytes, count: int) -> list[bytes]:
    """A new mailbox with count messages, selected; the SELECT responses."""
    ok(raw, b"CREATE " + name)
    for i in range(count):
        append(raw, name, f"{name.decode()} {i}")
    return ok(raw, b"SELECT " + name)


def test_advertised(server):
    raw = Raw(server.ports["IMAP"])
    caps = raw.greeting.split(b"]")[0].split()
    assert b"CONDSTORE" in caps and b"QRESYNC" in caps
    raw.login()
    (line,) = ok(raw, b"CAPABILITY")
    assert b" CONDSTORE" in line and b" QRESYNC" in line


def test_highestmodseq_in_select_and_status_and_rising_with_changes(server):
    raw, other = session(server), session(server)
    lines = mailbox(raw, b"CsHigh", 3)
    start = highest(lines)
    assert start > 0
    (status,) = ok(other, b"STATUS CsHigh (MESSAGES HIGHESTMODSEQ)")
    assert status == b"* STATUS CsHigh (MESSAGES 3 HIGHESTMODSEQ %d)" % start
    ok(other, b"SELECT CsHigh")
    ok(other, b"STORE 2 +FLAGS (\\Flagged)")
    lines = ok(raw, b"STATUS CsHigh (HIGHESTMODSEQ)")
    # STATUS HIGHESTMODSEQ enabled CONDSTORE, with CsHigh selected: its HIGHESTMODSEQ first (RFC 7162 3.1).
    changed = highest(lines)
    assert b"* STATUS CsHigh (HIGHESTMODSEQ %d)" % changed in lines
    assert changed > start
    # EXAMINE gives it too, and EXPUNGE's tagged OK has the new one once CONDSTORE is enabled.
    assert highest(ok(other, b"EXAMINE CsHigh")) == changed
    ok(raw, b"STORE 1 +FLAGS.SILENT (\\Deleted)")
    _, tagged = ok_tagged(raw, b"EXPUNGE")
    assert highest([tagged]) > changed


def test_fetch_modseq_and_store_responses_carry_modseq_once_enabled(server):
    raw = session(server)
    mailbox(raw, b"CsFetch", 3)
    # Before CONDSTORE is enabled, STORE answers as RFC 3501 does.
    (line,) = ok(raw, b"STORE 1 +FLAGS (\\Answered)")
    assert b"MODSEQ" not in line
    lines = ok(raw, b"FETCH 1:* (UID FLAGS MODSEQ)")
    # FETCH MODSEQ enabled CONDSTORE: the HIGHESTMODSEQ of the mailbox comes first.
    assert lines[0].startswith(b"* OK [HIGHESTMODSEQ ")
    first = modseqs(lines)
    assert len(first) == 3 and max(first.values()) == highest(lines)
    (line,) = ok(raw, b"STORE 2 +FLAGS (\\Seen)")
    assert re.fullmatch(rb"\* 2 FETCH \(UID (\d+) FLAGS \(\\Seen( \\Recent)?\) MODSEQ \((\d+)\)\)", line), line
    uid2 = sorted(first)[1]
    second = modseqs([line])[uid2]
    assert second > max(first.values())
    # .SILENT: still a FETCH with the new MODSEQ for what changed (RFC 7162 3.1.3), nothing for a no-op.
    (line,) = ok(raw, b"STORE 3 +FLAGS.SILENT (\\Draft)")
    assert re.fullmatch(rb"\* 3 FETCH \(UID \d+ MODSEQ \(\d+\)\)", line), line
    assert ok(raw, b"STORE 3 +FLAGS.SILENT (\\Draft)") == []
    # MODSEQ alone, as an atom.
    assert ok(raw, b"FETCH 2 MODSEQ") == [b"* 2 FETCH (MODSEQ (%d))" % second]


def test_fetch_that_sets_seen_reports_uid_and_modseq(server):
    raw = session(server)
    mailbox(raw, b"CsSeen", 1)
    ok(raw, b"ENABLE CONDSTORE")
    lines = ok(raw, b"FETCH 1 (BODY[TEXT])")
    assert re.search(rb"UID \d+", lines[0]) and b"MODSEQ (" in lines[0] and b"\\Seen" in lines[0]


def test_changedsince_gives_only_the_changed_messages(server):
    raw = session(server)
    start = highest(mailbox(raw, b"CsSince", 6))
    # CHANGEDSINCE enables CONDSTORE: HIGHESTMODSEQ of the selected mailbox, once (RFC 7162 3.1).
    assert ok(raw, b"UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % start) == [
        b"* OK [HIGHESTMODSEQ %d] CONDSTORE enabled" % start]
    assert ok(raw, b"UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % start) == []
    ok(raw, b"STORE 2,5 +FLAGS.SILENT (\\Flagged)")
    lines = ok(raw, b"UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % start)
    assert sorted(modseqs(lines)) == [2, 5]
    assert all(b"FLAGS (\\Flagged" in line for line in lines)
    # By sequence number, and limited to the set asked for.
    lines = ok(raw, b"FETCH 1:4 (UID FLAGS) (CHANGEDSINCE %d)" % start)
    assert [line.split()[1] for line in lines] == [b"2"] and b"MODSEQ (" in lines[0]


def test_unchangedsince_conflicts_are_modified(server):
    raw, other = session(server), session(server)
    start = highest(mailbox(raw, b"CsCond", 3))
    ok(other, b"SELECT CsCond")
    ok(other, b"STORE 2 +FLAGS (\\Seen)")
    # RFC 7162 3.1.3 example: message 2 changed since, so it is left as it is; 1 and 3 are changed.
    untagged, tagged = ok_tagged(raw, b"STORE 1:3 (UNCHANGEDSINCE %d) +FLAGS.SILENT (\\Deleted)" % start)
    assert b"[MODIFIED 2]" in tagged
    # The STORE's responses for 1 and 3, then the news of 2's change by the other session.
    stored = [line for line in untagged if b"FETCH" in line]
    assert [line.split()[1] for line in stored] == [b"1", b"3", b"2"]
    assert all(re.search(rb"MODSEQ \(\d+\)", line) for line in stored)
    assert b"\\Seen" in stored[2] and b"Deleted" not in stored[2]
    flags = ok(raw, b"FETCH 1:3 FLAGS")
    assert [b"\\Deleted" in line for line in flags if b"FETCH" in line] == [True, False, True]
    # UID STORE names the UIDs; UNCHANGEDSINCE 0 fails for every message (RFC 7162 3.1.3).
    _, tagged = ok_tagged(raw, b"UID STORE 1:3 (UNCHANGEDSINCE 0) +FLAGS (\\Flagged)")
    assert b"[MODIFIED 1:3]" in tagged
    # Unchanged since the current value: it works.
    now = highest(ok(raw, b"EXAMINE CsCond") + ok(raw, b"SELECT CsCond"))
    untagged, tagged = ok_tagged(raw, b"UID STORE 2 (UNCHANGEDSINCE %d) +FLAGS (\\Flagged)" % now)
    assert b"MODIFIED" not in tagged and b"\\Flagged" in untagged[-1]


def test_search_modseq(server):
    raw = session(server)
    start = highest(mailbox(raw, b"CsSearch", 4))
    ok(raw, b"STORE 1,3 +FLAGS (\\Draft)")
    enabled, line = ok(raw, b"SEARCH MODSEQ %d" % (start + 1))
    assert enabled.startswith(b"* OK [HIGHESTMODSEQ ")
    m = re.fullmatch(rb"\* SEARCH 1 3 \(MODSEQ (\d+)\)", line)
    assert m, line
    top = int(m.group(1))
    assert top == highest(ok(raw, b"SELECT CsSearch"))
    # The entry name and type are read and ignored (RFC 7162 3.1.5).
    (line,) = ok(raw, b'UID SEARCH MODSEQ "/flags/\\\\draft" all %d' % (start + 1))
    assert line == b"* SEARCH 1 3 (MODSEQ %d)" % top
    assert ok(raw, b"SEARCH MODSEQ %d" % (top + 1)) == [b"* SEARCH"]
    (line,) = ok(raw, b"SEARCH OR MODSEQ %d DRAFT" % (top + 1))
    assert line == b"* SEARCH 1 3 (MODSEQ %d)" % top
    # In the ESEARCH form (RFC 4731), MODSEQ is a result item (RFC 7162 3.1.5).
    (line,) = ok(raw, b"UID SEARCH RETURN (COUNT ALL) MODSEQ %d" % (start + 1))
    assert re.fullmatch(rb'\* ESEARCH \(TAG "t\d+"\) UID COUNT 2 ALL (\d+),(\d+) MODSEQ %d' % top, line), line


def test_unsolicited_fetch_carries_modseq(server):
    raw, other = session(server), session(server)
    mailbox(raw, b"CsNotify", 2)
    ok(raw, b"ENABLE CONDSTORE")
    ok(other, b"SELECT CsNotify")
    ok(other, b"STORE 1 +FLAGS (\\Flagged)")
    lines = ok(raw, b"NOOP")
    assert re.fullmatch(rb"\* 1 FETCH \(UID 1 FLAGS \(\\Flagged( \\Recent)?\) MODSEQ \(\d+\)\)", lines[0]), lines


def test_copy_move_and_expunge_give_new_modseqs(server):
    raw = session(server)
    start = highest(mailbox(raw, b"CsSrc", 3))
    ok(raw, b"CREATE CsDest")
    ok(raw, b"COPY 1 CsDest")
    ok(raw, b"MOVE 2 CsDest")
    dest = session(server)
    lines = ok(dest, b"SELECT CsDest")
    lines = ok(dest, b"UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % start)
    assert sorted(modseqs(lines)) == [1, 2]
    assert status_highest(dest, b"CsSrc") > start  # the move away is a change of the source too


def test_webapi_flag_changes_and_delivered_mail_get_new_modseqs(server):
    raw = session(server)
    start = highest(ok(raw, b"SELECT INBOX"))
    cursor = server.call("ChangesSince", {"Cursor": ""}).json()["NextCursor"]
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=10) as s:
        s.sendmail("someone@example.org", [ADDRESS],
                   f"From: someone@example.org\r\nTo: {ADDRESS}\r\nSubject: cs delivered\r\n\r\nhi\r\n".encode())
    # Stored by the delivery process; this session hears of it and sees its modseq.
    row = server.wait_for(lambda: [m for m in server.messages() if m["subject"] == "cs delivered"])[0]
    server.wait_for(lambda: any(b"EXISTS" in line for line in ok(raw, b"NOOP")))
    lines = ok(raw, b"UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % start)
    delivered = modseqs(lines)
    assert list(delivered) == [row["uid"]] and delivered[row["uid"]] > start
    # A flag change over the webapi: the session is told, with the modseq the change log has too.
    assert server.call("MessageFlagsAdd", {"MsgID": row["id"], "Flags": ["\\Seen", "webapi"]}).status_code == 200
    lines = server.wait_for(lambda: [line for line in ok(raw, b"NOOP") if b"FETCH" in line])
    flagged = modseqs(lines)[row["uid"]]
    assert flagged > delivered[row["uid"]]
    changes = server.call("ChangesSince", {"Cursor": cursor}).json()["Changes"]
    updated = [c for c in changes if c["Event"] == "messageUpdated"]
    assert [int(c["Cursor"].split(".")[0]) for c in updated] == [flagged]
    new = [c for c in changes if c["Event"] == "messageNew"]
    assert [int(c["Cursor"].split(".")[0]) for c in new] == [delivered[row["uid"]]]
    assert status_highest(raw, b"INBOX") == flagged


@pytest.mark.parametrize("command, reason", [
    (b"FETCH 1 (FLAGS) (CHANGEDSINCE 0)", b"1 or more"),
    (b"FETCH 1 (FLAGS) (CHANGEDSINCE -1)", b"CHANGEDSINCE"),
    (b"FETCH 1 (FLAGS) (CHANGEDSINCE abc)", b"CHANGEDSINCE"),
    (b"FETCH 1 (FLAGS) (CHANGEDSINCE)", b"CHANGEDSINCE"),
    (b"FETCH 1 (FLAGS) (CHANGEDSINCE 9223372036854775808)", b"too large"),
    (b"FETCH 1 (FLAGS) (CHANGEDSINCE 5 CHANGEDSINCE 6)", b"duplicate"),
    (b"FETCH 1 (FLAGS) (NOSUCH 5)", b"unknown fetch modifier"),
    (b"FETCH 1 (FLAGS) CHANGEDSINCE 5", b"parentheses"),
    (b"UID FETCH 1 (FLAGS) (CHANGEDSINCE 5 VANISHED)", b"QRESYNC"),
    (b"STORE 1 (UNCHANGEDSINCE x) +FLAGS (\\Seen)", b"UNCHANGEDSINCE"),
    (b"STORE 1 (UNCHANGEDSINCE -3) +FLAGS (\\Seen)", b"UNCHANGEDSINCE"),
    (b"STORE 1 (NOSUCH 3) +FLAGS (\\Seen)", b"store modifier"),
    (b"SEARCH MODSEQ x", b"MODSEQ"),
    (b"SEARCH MODSEQ", b"missing"),
    (b'SEARCH MODSEQ "/flags/\\\\seen" nosuch 5', b"entry type"),
    (b"SELECT INBOX (NOSUCH)", b"select parameter"),
    (b"SELECT INBOX CONDSTORE", b"parentheses"),
    (b"SELECT INBOX (CONDSTORE CONDSTORE)", b"duplicate"),
])
def test_bad_syntax_is_bad(server, command, reason):
    raw = session(server)
    ok(raw, b"SELECT INBOX")
    append(raw, b"INBOX", "cs bad")
    tagged = bad(raw, command)
    assert reason in tagged, tagged
    ok(raw, b"NOOP")  # and the session goes on


def test_select_condstore_parameter_enables(server):
    raw = session(server)
    mailbox(raw, b"CsParam", 1)
    lines = ok(raw, b"SELECT CsParam (CONDSTORE)")
    assert highest(lines)
    (line,) = ok(raw, b"STORE 1 +FLAGS (\\Seen)")
    assert b"MODSEQ (" in line
    # A quoted mailbox name with parameters after it.
    assert highest(ok(raw, b'EXAMINE "CsParam" (CONDSTORE)'))

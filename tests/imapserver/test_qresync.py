"""QRESYNC (RFC 7162 3.2) over a real connection: ENABLE, SELECT with
QRESYNC answering VANISHED (EARLIER) and the changed flags, UID FETCH with
CHANGEDSINCE and VANISHED, VANISHED in place of EXPUNGE, CLOSED, and what
is answered once the change log was pruned past the client's modseq."""

import re
import time

import pytest

from ..imapclient import Raw
from .test_condstore import append, bad, highest, modseqs, ok, ok_tagged, session


def qresync_session(server) -> Raw:
    raw = session(server)
    assert ok(raw, b"ENABLE QRESYNC") == [b"* ENABLED QRESYNC CONDSTORE"]
    return raw


def state(raw: Raw, name: bytes) -> tuple[int, int, list[int]]:
    """(UIDVALIDITY, HIGHESTMODSEQ, UIDs) of a mailbox, as a client caches them."""
    lines = ok(raw, b"EXAMINE " + name)
    uidvalidity = int(next(re.search(rb"UIDVALIDITY (\d+)", line).group(1) for line in lines if b"UIDVALIDITY" in line))
    (search,) = [line for line in ok(raw, b"UID SEARCH ALL") if line.startswith(b"* SEARCH")]
    return uidvalidity, highest(lines), [int(u) for u in search.split()[2:]]


def filled(raw: Raw, name: bytes, count: int) -> None:
    ok(raw, b"CREATE " + name)
    for i in range(count):
        append(raw, name, f"{name.decode()} {i}")


def vanished(lines: list[bytes], earlier: bool = True) -> list[bytes]:
    head = b"* VANISHED (EARLIER) " if earlier else b"* VANISHED "
    return [line[len(head):] for line in lines if line.startswith(head)]


def fetched(lines: list[bytes]) -> list[bytes]:
    return [line for line in lines if b" FETCH (" in line]


def test_enable(server):
    raw = session(server)
    assert ok(raw, b"ENABLE CONDSTORE") == [b"* ENABLED CONDSTORE"]
    assert ok(raw, b"ENABLE QRESYNC NOSUCH") == [b"* ENABLED QRESYNC"]  # CONDSTORE was on already
    assert ok(session(server), b"ENABLE NOSUCH") == [b"* ENABLED"]


def test_resync_after_another_session_changed_flags_and_expunged(server):
    cache = session(server)
    filled(cache, b"QrSync", 8)
    uidvalidity, modseq, uids = state(cache, b"QrSync")
    assert uids == list(range(1, 9))
    cache.close()

    # Meanwhile another session flags 2 and 6, and expunges 3 and 7.
    other = session(server)
    ok(other, b"SELECT QrSync")
    ok(other, b"UID STORE 2,6 +FLAGS (\\Flagged)")
    ok(other, b"UID STORE 3,7 +FLAGS.SILENT (\\Deleted)")
    ok(other, b"EXPUNGE")

    client = qresync_session(server)
    lines = ok(client, b"SELECT QrSync (QRESYNC (%d %d))" % (uidvalidity, modseq))
    assert vanished(lines) == [b"3,7"]
    changed = fetched(lines)
    assert [re.search(rb"UID (\d+)", line).group(1) for line in changed] == [b"2", b"6"]
    assert all(b"\\Flagged" in line and b"MODSEQ (" in line for line in changed)
    assert modseq < max(modseqs(changed).values()) < highest(lines)  # the expunge came last
    # With the known UIDs, only those are spoken of (RFC 7162 3.2.5.1).
    lines = ok(client, b"SELECT QrSync (QRESYNC (%d %d 1:3))" % (uidvalidity, modseq))
    assert b"* OK [CLOSED] previous mailbox closed" in lines
    assert vanished(lines) == [b"3"] and len(fetched(lines)) == 1
    # Seq-match data: the client's 2nd message is still UID 2, 4th is no longer UID 4, so 3 may be gone
    # and 1 is not (RFC 7162 3.2.5.2).
    lines = ok(client, b"EXAMINE QrSync (QRESYNC (%d %d 1:8 (2,4 2,4)))" % (uidvalidity, modseq))
    assert vanished(lines) == [b"3,7"]
    # Up to date: nothing. Another UIDVALIDITY: nothing either, the cache is stale.
    now = highest(lines)
    lines = ok(client, b"SELECT QrSync (QRESYNC (%d %d))" % (uidvalidity, now))
    assert vanished(lines) == [] and fetched(lines) == []
    lines = ok(client, b"SELECT QrSync (QRESYNC (%d %d))" % (uidvalidity + 1, modseq))
    assert vanished(lines) == [] and fetched(lines) == []

    # The same, asked of the selected mailbox with UID FETCH (RFC 7162 3.2.6).
    lines = ok(client, b"UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)" % modseq)
    assert vanished(lines) == [b"3,7"] and sorted(modseqs(lines)) == [2, 6]
    assert lines[0].startswith(b"* VANISHED (EARLIER) ")  # before the FETCH responses
    lines = ok(client, b"UID FETCH 1:5 (FLAGS) (CHANGEDSINCE %d VANISHED)" % modseq)
    assert vanished(lines) == [b"3"] and sorted(modseqs(lines)) == [2]


def test_vanished_replaces_expunge_once_enabled(server):
    client, other = qresync_session(server), session(server)
    filled(client, b"QrGone", 6)
    ok(client, b"SELECT QrGone")
    ok(other, b"SELECT QrGone")
    # The session's own EXPUNGE.
    ok(client, b"STORE 1,2 +FLAGS.SILENT (\\Deleted)")
    untagged, tagged = ok_tagged(client, b"EXPUNGE")
    assert vanished(untagged, earlier=False) == [b"1:2"] and b"EXPUNGE" not in b" ".join(untagged)
    assert highest([tagged])
    # UID EXPUNGE and MOVE.
    ok(client, b"UID STORE 3 +FLAGS.SILENT (\\Deleted)")
    assert vanished(ok(client, b"UID EXPUNGE 3"), earlier=False) == [b"3"]
    untagged, tagged = ok_tagged(client, b"UID MOVE 5 Archive")
    assert vanished(untagged, earlier=False) == [b"5"] and b"[HIGHESTMODSEQ " in tagged
    # Another session's expunge, told at NOOP; the session without QRESYNC gets EXPUNGE.
    ok(other, b"UID STORE 4 +FLAGS.SILENT (\\Deleted)")
    ok(other, b"EXPUNGE")
    assert vanished(ok(client, b"NOOP"), earlier=False) == [b"4"]
    assert ok(client, b"UID SEARCH ALL") == [b"* SEARCH 6"]
    assert not [line for line in ok(other, b"NOOP") if b"VANISHED" in line]


def test_webapi_moves_and_deletes_are_vanished_and_resynced(server):
    client = qresync_session(server)
    filled(client, b"QrApi", 4)
    uidvalidity, modseq, _ = state(client, b"QrApi")
    ok(client, b"SELECT QrApi")
    ids = {m["uid"]: m["id"] for m in server.messages() if m["mailbox"] == "QrApi"}
    assert server.call("MessageDelete", {"MsgID": ids[1]}).status_code == 200
    assert server.call("MessageMove", {"MsgID": ids[3], "DestMailboxName": "Archive"}).status_code == 200
    assert server.call("MessageFlagsAdd", {"MsgID": ids[4], "Flags": ["$Junk"]}).status_code == 200
    told: list[bytes] = []

    def gone() -> set[int]:
        return {int(u) for line in vanished(told, earlier=False) for u in line.split(b",")}

    server.wait_for(lambda: told.extend(ok(client, b"NOOP")) or (gone() == {1, 3} and fetched(told)))
    assert b"$Junk" in fetched(told)[0] and b"MODSEQ (" in fetched(told)[0]
    # A client that was away learns the same.
    lines = ok(qresync_session(server), b"EXAMINE QrApi (QRESYNC (%d %d))" % (uidvalidity, modseq))
    assert vanished(lines) == [b"1,3"]
    assert [re.search(rb"UID (\d+)", line).group(1) for line in fetched(lines)] == [b"4"]


def test_select_replacing_a_mailbox_says_closed(server):
    raw = session(server)
    ok(raw, b"SELECT INBOX")
    lines = ok(raw, b"EXAMINE Archive")
    assert lines[0] == b"* OK [CLOSED] previous mailbox closed"
    assert not any(b"CLOSED" in line for line in ok(session(server), b"SELECT INBOX"))


@pytest.mark.parametrize("command, reason", [
    (b"SELECT INBOX (QRESYNC (0 5))", b"uidvalidity"),
    (b"SELECT INBOX (QRESYNC (1 0))", b"1 or more"),
    (b"SELECT INBOX (QRESYNC (abc 5))", b"uidvalidity"),
    (b"SELECT INBOX (QRESYNC (1))", b"QRESYNC needs"),
    (b"SELECT INBOX (QRESYNC 1 5)", b"QRESYNC needs"),
    (b"SELECT INBOX (QRESYNC (1 5 1:*))", b"not allowed"),
    (b"SELECT INBOX (QRESYNC (1 5 1:3 (1,2 1)))", b"as many"),
    (b"SELECT INBOX (QRESYNC (1 5 1:3 (1 2) x))", b"seq-match-data"),
    (b"FETCH 1 (FLAGS) (CHANGEDSINCE 5 VANISHED)", b"UID FETCH only"),
    (b"UID FETCH 1 (FLAGS) (VANISHED)", b"needs CHANGEDSINCE"),
])
def test_bad_syntax_is_bad(server, command, reason):
    raw = qresync_session(server)
    ok(raw, b"SELECT INBOX")
    append(raw, b"INBOX", "qr bad")
    assert reason in bad(raw, command)
    ok(raw, b"NOOP")


def test_qresync_parameter_without_enable_is_bad(server):
    raw = session(server)
    ok(raw, b"SELECT INBOX")
    assert b"ENABLE QRESYNC" in bad(raw, b"SELECT INBOX (QRESYNC (1 5))")
    ok(raw, b"FETCH 1:* FLAGS")  # a BAD command closed nothing


@pytest.mark.slow
def test_after_pruning_every_known_uid_not_there_is_vanished(new_server):
    srv = new_server(lambda c: setattr(c.Accounts["mox"], "ChangesRetention", 1.0)).start()
    raw = session(srv)
    filled(raw, b"QrOld", 6)
    uidvalidity, modseq, _ = state(raw, b"QrOld")
    cursor = srv.call("ChangesSince", {"Cursor": ""}).json()["NextCursor"]
    ok(raw, b"SELECT QrOld")
    ok(raw, b"UID STORE 2,5 +FLAGS.SILENT (\\Deleted)")
    ok(raw, b"EXPUNGE")
    # The webapi's feed says when the log was pruned past the client's position.
    srv.wait_for(lambda: srv.call("ChangesSince", {"Cursor": cursor}).status_code == 400, timeout=20, interval=0.2)
    time.sleep(0.1)

    client = qresync_session(srv)
    lines = ok(client, b"SELECT QrOld (QRESYNC (%d %d))" % (uidvalidity, modseq))
    assert vanished(lines) == [b"2,5"]
    # Known UIDs limit it; so does seq-match data (the 3rd message is still UID 4: nothing below 4 gone).
    lines = ok(client, b"SELECT QrOld (QRESYNC (%d %d 1:3,6:9))" % (uidvalidity, modseq))
    assert vanished(lines) == [b"2"]
    lines = ok(client, b"SELECT QrOld (QRESYNC (%d %d 1:6 (3 4)))" % (uidvalidity, modseq))
    assert vanished(lines) == [b"5"]
    lines = ok(client, b"UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)" % modseq)
    assert vanished(lines) == [b"2,5"]


def test_a_mailbox_made_anew_hears_nothing_of_the_one_before(server):
    # SQLite gives a new mailbox the id of the deleted newest one; its log entries are not the new one's.
    raw = qresync_session(server)
    filled(raw, b"QrReuse", 3)
    ok(raw, b"DELETE QrReuse")
    ok(raw, b"CREATE QrReuse")
    ok(raw, b"SELECT QrReuse")
    assert ok(raw, b"UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)") == []

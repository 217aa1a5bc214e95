"""COPY and MOVE racing an EXPUNGE of the same messages in another session:
the copying session gets OK for what still exists (COPYUID naming exactly
that) or NO [EXPUNGEISSUED], never a server error, and the index and the
message files stay consistent (no row without its file, no file without a
row)."""

import re

from .. import storehelp
from ..imapclient import Raw

ROUNDS = 25
PER_ROUND = 16


def append_many(raw: Raw, mailbox: bytes, count: int, prefix: str) -> None:
    """Append messages pipelined (LITERAL+), so they share group commits."""
    tags = []
    out = b""
    for i in range(count):
        body = f"From: race@example.org\r\nSubject: {prefix} {i}\r\n\r\nbody {i}\r\n".encode()
        tag = raw.tag()
        tags.append(tag)
        out += tag + b" APPEND " + mailbox + b" {%d+}\r\n" % len(body) + body + b"\r\n"
    raw.send(out)
    for tag in tags:
        _, tagged = raw.until(tag)
        assert b" OK " in tagged, tagged


def uid_set(text: bytes) -> list[int]:
    uids = []
    for item in text.split(b","):
        low, _, high = item.partition(b":")
        uids += range(int(low), int(high or low) + 1)
    return uids


def check_consistent(server) -> None:
    assert storehelp.problems(server.config.data_dir(), "mox", server.config) == []


def empty_source(raw: Raw) -> None:
    for command in (b"STORE 1:* +FLAGS.SILENT (\\Deleted)", b"EXPUNGE"):
        untagged, tagged = raw.command(command)
        assert b" OK " in tagged, tagged


def race(server, move: bool) -> None:
    command = b"MOVE" if move else b"COPY"
    source, dest = b"Race" + command, b"Race" + command + b"Dest"
    copier, expunger = Raw(server.ports["IMAP"], timeout=30), Raw(server.ports["IMAP"], timeout=30)
    copier.login()
    expunger.login()
    for name in (source, dest):
        _, tagged = copier.command(b"CREATE " + name)
        assert b" OK " in tagged, tagged
    outcomes = set()  # which of the three cases happened, for the curious (-s)
    in_dest = 0
    for n in range(ROUNDS):
        append_many(expunger, source, PER_ROUND, f"round {n}")
        for raw in (copier, expunger):
            _, tagged = raw.command(b"SELECT " + source)
            assert b" OK " in tagged, tagged
        search, _ = copier.command(b"UID SEARCH ALL")
        uids = [int(x) for x in search[0].split()[2:]]
        assert len(uids) == PER_ROUND
        # Every other message goes, so a COPY that runs after the EXPUNGE copies the rest; in some
        # rounds all go, so it has nothing left to copy.
        doomed = uids if n % 3 == 2 else uids[::2]
        _, tagged = expunger.command(b"UID STORE " + b",".join(b"%d" % u for u in doomed) + b" +FLAGS.SILENT (\\Deleted)")
        assert b" OK " in tagged, tagged

        # Both commands at once, in either order: the EXPUNGE of one session and the COPY/MOVE of the other.
        copy_tag, expunge_tag = copier.tag(), expunger.tag()
        sends = [lambda: expunger.send(expunge_tag + b" EXPUNGE\r\n"),
                 lambda: copier.send(copy_tag + b" UID " + command + b" 1:* " + dest + b"\r\n")]
        for send in sends if n % 2 else reversed(sends):
            send()
        untagged, tagged = copier.until(copy_tag)
        _, expunged = expunger.until(expunge_tag)
        assert b" OK " in expunged, expunged

        assert b"SERVERBUG" not in tagged and b"internal error" not in tagged, tagged
        status = tagged.split()[1]
        assert status in (b"OK", b"NO"), tagged
        if status == b"NO":
            assert b"[EXPUNGEISSUED]" in tagged and doomed == uids, tagged
            outcomes.add("none")
            empty_source(expunger)
            continue
        code = tagged if not move else next(line for line in untagged if b"[COPYUID " in line)
        m = re.search(rb"\[COPYUID \d+ ([0-9:,]+) ([0-9:,]+)\]", code)
        assert m, code
        copied, new = uid_set(m.group(1)), uid_set(m.group(2))
        assert len(copied) == len(new)
        assert set(copied) <= set(uids)
        # What was copied is either everything or exactly what the expunge left.
        assert set(copied) in (set(uids), set(uids) - set(doomed)), (copied, uids)
        outcomes.add("all" if len(copied) == len(uids) else "survivors")
        in_dest += len(copied)
        untagged, _ = copier.command(b"STATUS " + dest + b" (MESSAGES)")
        reported = [line for line in untagged if line.startswith(b"* STATUS ")]
        assert reported == [b"* STATUS " + dest + b" (MESSAGES %d)" % in_dest], untagged
        if move:
            search, _ = copier.command(b"UID SEARCH ALL")
            assert search[0] == b"* SEARCH", search  # moved or expunged: nothing left in the source
        empty_source(expunger)
    copier.close()
    expunger.close()
    check_consistent(server)
    print(command.decode(), "outcomes", sorted(outcomes))


def test_copy_racing_expunge_copies_what_exists(server):
    race(server, move=False)


def test_move_racing_expunge_moves_what_exists(server):
    race(server, move=True)

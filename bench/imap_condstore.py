#!/usr/bin/env python3
"""IMAP CONDSTORE resync speed: `UID FETCH 1:* (FLAGS) (CHANGEDSINCE m)` on a
large mailbox where few messages changed since m; prints the median of
several runs.

    .venv/bin/python bench/imap_condstore.py [-n 10000] [-changed 10] [-runs 9]

Fills the Inbox of a fresh localserve (in a temporary directory) with N
messages through the store (100 delivered, the rest copies of them, so
filling takes seconds), notes the mailbox's HIGHESTMODSEQ, flags CHANGED
messages spread over the mailbox, then times the command over a real
connection (the client's wall-clock from sending it to the tagged OK, on
loopback), next to a plain `UID FETCH 1:* (FLAGS)` for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.imapclient import Raw  # noqa: E402
from tests.localserve import LocalServer  # noqa: E402


def message(i: int) -> bytes:
    return (f"From: Sender {i} <sender{i}@example.org>\r\nTo: mox@localhost\r\nSubject: message number {i}\r\n"
            f"Message-ID: <bench-{i}@example.org>\r\n\r\nhello {i}\r\n").encode()


async def fill(data_dir: str, count: int) -> None:
    from moxpy.store import open_store

    store = open_store(data_dir)
    account = store.account("mox")
    sources = [await account.deliver(message(i), "Archive") for i in range(min(100, count))]
    archive = account.mailbox("Archive").id
    ids = [m.id for m in sources]
    left = count
    while left > 0:
        batch = ids[:left]
        await account.copy(batch, "Inbox", mailbox_id=archive)
        left -= len(batch)
    store.close()


def timed(raw: Raw, command: bytes) -> tuple[float, int]:
    """Seconds from sending command to its tagged OK, and the number of FETCH responses."""
    tag = raw.tag()
    started = time.perf_counter()
    raw.send(tag + b" " + command + b"\r\n")
    lines, tagged = raw.until(tag)
    elapsed = time.perf_counter() - started
    assert b" OK " in tagged, tagged
    return elapsed, sum(1 for line in lines if b" FETCH (" in line)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=10000)
    parser.add_argument("-changed", type=int, default=10)
    parser.add_argument("-runs", type=int, default=9)
    args = parser.parse_args()
    server = LocalServer(tempfile.mkdtemp(prefix="condstorebench"))
    started = time.perf_counter()
    asyncio.run(fill(server.config.data_dir(), args.n))
    print(f"mailbox of {args.n} messages ready in {time.perf_counter() - started:.1f} s")
    server.start()
    try:
        raw = Raw(server.ports["IMAP"], timeout=60)
        raw.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        raw.login()
        lines, _ = raw.command(b"SELECT INBOX")
        assert any(line == b"* %d EXISTS" % args.n for line in lines), lines
        since = int(next(re.search(rb"HIGHESTMODSEQ (\d+)", line).group(1) for line in lines
                         if b"HIGHESTMODSEQ" in line))
        step = max(1, args.n // args.changed)
        uids = b",".join(b"%d" % (1 + i * step) for i in range(args.changed))
        _, tagged = raw.command(b"UID STORE " + uids + b" +FLAGS.SILENT (\\Flagged)")
        assert b" OK " in tagged, tagged
        for label, command, expect in (
            (f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE m), {args.changed} changed",
             b"UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % since, args.changed),
            ("UID FETCH 1:* (FLAGS)", b"UID FETCH 1:* (FLAGS)", args.n),
        ):
            timed(raw, command)  # warm
            runs = []
            for _ in range(args.runs):
                elapsed, count = timed(raw, command)
                assert count == expect, (count, expect)
                runs.append(elapsed)
            print(f"{label:48} {args.n} messages: median {statistics.median(runs) * 1000:.1f} ms "
                  f"(min {min(runs) * 1000:.1f}, max {max(runs) * 1000:.1f}, {args.runs} runs)")
        raw.close()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""IMAP FETCH speed on a large mailbox: prints the median of several runs.

    .venv/bin/python bench/imap_fetch.py [-n 10000] [-runs 5] [-dir DIR]

Fills the Inbox of a fresh localserve (in DIR, kept for later runs, or a
temporary directory) with N messages of about 3 KB through the store, then
times, with imaplib after login and SELECT:

    UID FETCH 1:* (UID FLAGS)
    FETCH 1:* (FLAGS ENVELOPE)
    FETCH 1:* (BODY.PEEK[])

and prints the server's resident memory (VmRSS, VmHWM). Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import imaplib
import os
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.localserve import ADDRESS, PASSWORD, LocalServer  # noqa: E402

BODY = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\r\n" * 36)


def message(i: int) -> bytes:
    return (f"From: Sender {i} <sender{i}@example.org>\r\nTo: mox@localhost\r\nSubject: message number {i}\r\n"
            f"Message-ID: <bench-{i}@example.org>\r\nDate: Mon, 02 Jan 2023 10:00:00 +0100\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{BODY}").encode()


async def fill(data_dir: str, count: int) -> None:
    from moxpy.store import open_store

    store = open_store(data_dir)
    account = store.account("mox")
    have = len(account.uids(account.mailbox("Inbox").id))
    semaphore = asyncio.Semaphore(64)  # concurrent deliveries share commits (group commit)

    async def one(i: int) -> None:
        async with semaphore:
            await account.deliver(message(i), "Inbox")

    await asyncio.gather(*(one(i) for i in range(have, count)))
    store.close()


def timed(client: imaplib.IMAP4, *args) -> float:
    started = time.perf_counter()
    typ, data = client._simple_command(*args)
    elapsed = time.perf_counter() - started
    assert typ == "OK", data
    client.untagged_responses.clear()
    return elapsed


def memory(pid: int) -> str:
    with open(f"/proc/{pid}/status") as f:
        fields = dict(line.split(":", 1) for line in f if line.startswith(("VmRSS", "VmHWM")))
    return f"VmRSS {fields['VmRSS'].strip()}, VmHWM {fields['VmHWM'].strip()}"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=10000)
    parser.add_argument("-runs", type=int, default=5)
    parser.add_argument("-dir", default="")
    args = parser.parse_args()
    directory = args.dir or tempfile.mkdtemp(prefix="imapbench")
    server = LocalServer(directory)
    # A kept directory has the ports of its first run in its config; use the free ones picked now.
    from moxpy.config import save

    for listener in server.config.Listeners.values():
        for name, port in server.ports.items():
            getattr(listener, name).Port = port
    save(server.config)
    started = time.perf_counter()
    asyncio.run(fill(server.config.data_dir(), args.n))
    print(f"mailbox of {args.n} messages ready in {time.perf_counter() - started:.1f} s ({directory})")
    server.start()
    try:
        client = imaplib.IMAP4("127.0.0.1", server.ports["IMAP"])
        client.login(ADDRESS, PASSWORD)
        typ, data = client.select("INBOX")
        assert int(data[0]) == args.n, data
        for label, command in (
            ("UID FETCH 1:* (UID FLAGS)", ("UID", "FETCH", "1:*", "(UID FLAGS)")),
            ("FETCH 1:* (FLAGS ENVELOPE)", ("FETCH", "1:*", "(FLAGS ENVELOPE)")),
            ("FETCH 1:* (BODY.PEEK[])", ("FETCH", "1:*", "(BODY.PEEK[])")),
        ):
            runs = [timed(client, *command) for _ in range(args.runs)]
            print(f"{label:32} {args.n} messages: median {statistics.median(runs):.3f} s "
                  f"(min {min(runs):.3f}, max {max(runs):.3f}, {args.runs} runs)")
        print(f"server memory: {memory(server.proc.pid)}")
        client.logout()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

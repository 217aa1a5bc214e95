#!/usr/bin/env python3
"""Benchmark the delivery queue in localserve: messages delivered per second.

    .venv/bin/python bench/queue_delivery.py [--messages 2000] [--concurrency 8]

Starts a localserve in a temporary directory on free ports and measures:

1. send -> inbox: webapi Sends at the given concurrency, timed from the
   first Send until every message is in the Inbox (each Send is fsync'ed
   before its 200, each delivery fsync'ed before the listener's 250);
2. queue drain: the same number of Sends with a FutureRelease an hour
   ahead, then `mox.py queue kick` makes them all due at once; timed from
   the kick until the queue is empty and every message is in the Inbox.

Sends are DKIM-signed and deliveries DKIM/SPF-verified as configured;
--no-dkim leaves signing out to show the cost of the queue itself.

Arrival is seen the way a mail client sees it: IMAP STATUS of the Inbox,
polled every 50 ms over one logged-in connection.
"""

from __future__ import annotations

import argparse
import imaplib
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone

import httpx

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.localserve import ADDRESS, PASSWORD, LocalServer  # noqa: E402


def count(path: str, sql: str) -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


def send_all(server: LocalServer, n: int, concurrency: int, tag: str, future: str | None = None) -> float:
    """Send n messages over `concurrency` connections; return the seconds it took."""
    counter = iter(range(n))
    lock = threading.Lock()
    failures = []

    def worker():
        with httpx.Client(base_url=server.base_url, auth=(ADDRESS, PASSWORD), timeout=60) as client:
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                request = {"To": [{"Address": "mox@localhost"}], "Subject": f"{tag} {i}", "Text": "hello\n" * 40}
                if future:
                    request["FutureRelease"] = future
                response = client.post("Send", data={"request": json.dumps(request)})
                if response.status_code != 200:
                    failures.append(response.text)

    start = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise SystemExit(f"{len(failures)} Sends failed, first: {failures[0]}")
    return time.monotonic() - start


def inbox_count(imap: imaplib.IMAP4) -> int:
    typ, data = imap.status("INBOX", "(MESSAGES)")
    return int(data[0].decode().split("MESSAGES")[1].strip(" )"))


def wait_inbox(imap: imaplib.IMAP4, n: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while inbox_count(imap) < n:
        if time.monotonic() > deadline:
            raise SystemExit("timed out waiting for deliveries")
        time.sleep(0.05)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--no-dkim", action="store_true",
                        help="do not DKIM-sign (so nothing to verify on arrival either): the queue's own cost")
    args = parser.parse_args()
    n = args.messages

    def configure(config):
        if args.no_dkim:
            for domain in config.Domains.values():
                domain.DKIM.Sign = []

    with tempfile.TemporaryDirectory() as directory:
        server = LocalServer(directory, configure).start()
        try:
            mox_db = os.path.join(server.config.data_dir(), "mox.db")
            imap = imaplib.IMAP4("127.0.0.1", server.ports["IMAP"])
            imap.login(ADDRESS, PASSWORD)

            start = time.monotonic()
            sent = send_all(server, n, args.concurrency, "direct")
            wait_inbox(imap, n)
            total = time.monotonic() - start
            print(f"send -> inbox: {n} messages at concurrency {args.concurrency}: sends done in {sent:.1f}s "
                  f"({n / sent:.0f}/s), all in inbox after {total:.1f}s: {n / total:.0f} messages/s end to end")

            later = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
            send_all(server, n, args.concurrency, "drain", future=later)
            start = time.monotonic()
            subprocess.run([sys.executable, os.path.join(ROOT, "mox.py"), "queue", "kick", "-to",
                            "@", "-dir", directory], check=True, capture_output=True)
            kicked = time.monotonic() - start
            wait_inbox(imap, 2 * n)
            while count(mox_db, "select count(*) from queue"):
                time.sleep(0.02)
            total = time.monotonic() - start
            print(f"queue drain: {n} queued messages delivered in {total:.1f}s (kick command {kicked:.1f}s): "
                  f"{n / total:.0f} messages/s")
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Send on SQLite and on PostgreSQL, one node and two, side by side.

    .venv/bin/python bench/postgresql.py [--duration 10] [--concurrency 8] [--messages 1000]

For each setup (SQLite; PostgreSQL with one node; PostgreSQL with two nodes
on one database), starts localserve processes in a temporary directory
(PostgreSQL from the Debian package, as the tests start it, with fsync on),
and prints:
- Send accepted/s: wrk posting a 1 KB text Send for --duration seconds at
  --concurrency in all (split over the nodes), only 200s counted;
- end to end: --messages Sends at that concurrency (over the nodes in
  turn) until all are in the Inbox, messages per second;
- then the time of a single-row read over the pool of read connections
  (store/pg/pool.py), median and 99th percentile of 2000, the cost of each
  small index read a node makes where it is called.
Every Send is durable before its 200 and is delivered through a node's
own SMTP listener.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import imaplib
import itertools
import json
import os
import sys
import tempfile
import threading
import time
import urllib.parse

import httpx

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from webapi import run_wrk  # noqa: E402  (beside this script)
from tests.localserve import ADDRESS, PASSWORD, LocalServer  # noqa: E402
from tests.pgserver import PostgreSQL  # noqa: E402

TEXT = "x" * 1000


class Inbox:
    """The Inbox's message count over one IMAP session (a login per look would cost more than the look)."""

    def __init__(self, server: LocalServer):
        self.imap = imaplib.IMAP4("127.0.0.1", server.ports["IMAP"])
        self.imap.login(ADDRESS, PASSWORD)

    def count(self) -> int:
        typ, data = self.imap.status("Inbox", "(MESSAGES)")
        return int(data[0].split(b"MESSAGES ")[1].rstrip(b")"))

    def settled(self) -> int:
        """The count once it stopped growing (the queue delivered what it had) for a second."""
        last, since = self.count(), time.monotonic()
        while time.monotonic() - since < 1.0:
            time.sleep(0.1)
            now = self.count()
            if now != last:
                last, since = now, time.monotonic()
        return last

    def close(self) -> None:
        self.imap.logout()


def accepted_per_second(nodes: list[LocalServer], concurrency: int, duration: int, directory: str) -> float:
    body = "request=" + urllib.parse.quote(json.dumps({"To": [{"Address": ADDRESS}], "Subject": "bench", "Text": TEXT}))
    share = max(1, concurrency // len(nodes))
    with concurrent.futures.ThreadPoolExecutor(len(nodes)) as pool:
        runs = [pool.submit(run_wrk, n.base_url + "Send", body, share, duration, os.path.join(directory, str(i)))
                for i, n in enumerate(nodes)]
        return sum(r.result()[0] for r in runs)


def end_to_end(nodes: list[LocalServer], concurrency: int, count: int) -> float:
    inbox = Inbox(nodes[0])
    before = inbox.settled()
    turn = itertools.cycle(nodes)
    lock = threading.Lock()
    failures = []

    local = threading.local()

    def send(i: int) -> None:
        with lock:
            node = next(turn)
        clients = local.__dict__.setdefault("clients", {})
        client = clients.get(node.base_url)
        if client is None:
            client = clients[node.base_url] = httpx.Client(base_url=node.base_url, auth=(ADDRESS, PASSWORD), timeout=60)
        request = json.dumps({"To": [{"Address": ADDRESS}], "Subject": f"e2e {i}", "Text": TEXT})
        response = client.post("Send", data={"request": request})
        if response.status_code != 200:
            failures.append(response.status_code)

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(send, range(count)))
    while inbox.count() < before + count - len(failures):
        if time.monotonic() - started > 600:
            raise RuntimeError("not all delivered within 10 minutes")
        time.sleep(0.05)
    elapsed = time.monotonic() - started
    inbox.close()
    return count / elapsed


def read_latency(dsn: str, count: int = 2000) -> tuple[float, float]:
    """Median and 99th percentile, in ms, of a single-row read on PostgreSQL over the pool."""
    from moxpy.store.pg.db import PgDatabase

    db = PgDatabase(dsn, lambda conn: conn.execute("create table t (id integer primary key, v text)"))
    try:
        db.write_sync(lambda conn: conn.execute("insert into t (v) values ('x')"))
        times = []
        for _ in range(count):
            started = time.perf_counter()
            db.query_one("select v from t where id = ?", (1,))
            times.append(time.perf_counter() - started)
    finally:
        db.close()
    times.sort()
    return times[len(times) // 2] * 1e3, times[int(len(times) * 0.99)] * 1e3


def setup(directory: str, name: str, dsn: str, count: int) -> list[LocalServer]:
    def configure(config):
        if dsn:
            config.Storage = "postgresql"
            config.PostgreSQL.DSN = dsn

    return [LocalServer(os.path.join(directory, f"{name}{i}"), configure).start() for i in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--messages", type=int, default=1000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as directory:
        for i in range(4):
            os.makedirs(os.path.join(directory, str(i)))
        postgresql = PostgreSQL().start()
        try:
            print(f"{'storage':<24} {'Send/s (200)':>12} {'end to end/s':>13}")
            for label, dsn, count in (("sqlite", "", 1), ("postgresql, 1 node", postgresql.new_database(), 1),
                                      ("postgresql, 2 nodes", postgresql.new_database(), 2)):
                nodes = setup(directory, label.split(",")[0] + str(count), dsn, count)
                try:
                    rate = accepted_per_second(nodes, args.concurrency, args.duration, directory)
                    e2e = end_to_end(nodes, args.concurrency, args.messages)
                    print(f"{label:<24} {rate:>12.1f} {e2e:>13.1f}", flush=True)
                finally:
                    for node in nodes:
                        node.stop()
            median, p99 = read_latency(postgresql.new_database())
            print(f"single-row read over the pool: median {median:.3f} ms, 99th percentile {p99:.3f} ms")
        finally:
            postgresql.stop()


if __name__ == "__main__":
    main()

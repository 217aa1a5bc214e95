#!/usr/bin/env python3
"""Benchmark webhook delivery: webhooks per second to a fast local receiver.

    .venv/bin/python bench/webhooks.py [--webhooks 5000] [--urls 1]

Makes a localserve in a temporary directory whose account has an outgoing
webhook, queues the given number of "delivered" webhooks in its database
(through the same event sink the delivery queue uses) while the server is
stopped, then starts it and times until the receiver has answered all of
them. The receiver is a minimal asyncio HTTP/1.1 server with keep-alive
that answers 200 at once; with --urls N the webhooks are spread over N
accounts' URLs (the server sends one request at a time per URL).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from moxpy import config as configlib
from moxpy.config import Destination, OutgoingWebhook  # noqa: E402
from moxpy.config import Account  # noqa: E402
from moxpy.queue.outcome import Event  # noqa: E402
from moxpy.server import server_schema  # noqa: E402
from moxpy.store.db import Database  # noqa: E402
from moxpy.webhooks.enqueue import outgoing_sink  # noqa: E402
from tests.localserve import LocalServer  # noqa: E402


class Receiver:
    """Counts POSTs; answers each with an empty 200 on a kept-alive connection."""

    def __init__(self):
        self.count = 0
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        threading.Thread(target=self._run, args=(ready,), daemon=True).start()
        ready.wait()

    def _run(self, ready):
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        ready.set()
        self.loop.run_forever()

    async def _client(self, reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                await reader.readexactly(length)
                self.count += 1
                if self.count == 1:
                    self.first = time.monotonic()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--webhooks", type=int, default=5000)
    parser.add_argument("--urls", type=int, default=1)
    args = parser.parse_args()
    receiver = Receiver()

    def configure(config):
        template = config.Accounts["mox"]
        for i in range(args.urls):
            name = "mox" if i == 0 else f"bench{i}"
            account = template if i == 0 else Account(Domain="localhost", Destinations={
                f"{name}@localhost": Destination()}, KeepRetiredWebhookPeriod=template.KeepRetiredWebhookPeriod)
            account.OutgoingWebhook = OutgoingWebhook(URL=f"http://127.0.0.1:{receiver.port}/hook{i}")
            config.Accounts[name] = account

    with tempfile.TemporaryDirectory() as directory:
        server = LocalServer(directory, configure)
        server.start()
        server.stop()
        db = Database(os.path.join(server.config.data_dir(), "mox.db"), server_schema)
        sink = outgoing_sink(configlib.Source(server.config, reload=False))
        accounts = list(server.config.Accounts)

        def fill(conn):
            for i in range(args.webhooks):
                sink(conn, Event("delivered", account=accounts[i % len(accounts)], queue_msg_id=i + 1,
                                 message_id=f"<{i}@localhost>", subject=f"bench {i}", smtp_code=250))

        db.write_sync(fill)
        db.close()

        start = time.monotonic()
        server.start()
        try:
            deadline = time.monotonic() + 600
            while receiver.count < args.webhooks and time.monotonic() < deadline:
                time.sleep(0.01)
            end = time.monotonic()
        finally:
            server.stop()
        total, sending = end - start, end - receiver.first
        print(f"webhooks: {receiver.count} of {args.webhooks} delivered to {args.urls} URL(s) in {total:.2f}s "
              f"including server start ({receiver.count / total:.0f}/s); first to last {sending:.2f}s: "
              f"{receiver.count / sending:.0f} webhooks/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

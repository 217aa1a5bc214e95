#!/usr/bin/env python3
"""Benchmark MessageList and MessageSearch over real HTTP at 10,000 messages.

    .venv/bin/python bench/mailbox_api.py [--messages 10000] [--calls 21]

Fills the Inbox of a fresh localserve with varied messages (plain and HTML,
with and without attachments, from a few hundred senders, received over a
year) through the store, as delivery stores them, before the server starts;
then times MessageList (page 1 and page 400 of 20) and MessageSearch (a
subject word, a body word, a sender's address) over HTTP with one
keep-alive connection, and prints the median of each. The target is under
50 ms each at 10,000 messages; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from email.message import EmailMessage
from email.policy import SMTP

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from moxpy.store import open_store  # noqa: E402
from tests.localserve import ADDRESS, PASSWORD, LocalServer  # noqa: E402

WORDS = ("account order invoice meeting report update project schedule budget review payment delivery ticket "
         "support request question answer team office client contract offer price quote travel hotel flight "
         "agenda minutes summary draft final weekly monthly quarterly annual holiday birthday party lunch dinner "
         "coffee document file photo picture release version server network backup storage security password "
         "login account profile newsletter subscription discount sale shipping tracking package return refund").split()
BODY_WORD = "zeppelin"  # in one body of 50
SUBJECT_WORD = "kaleidoscope"  # in one subject of 50
YEAR = 365 * 24 * 3600


def message(rng: random.Random, n: int, senders: list[tuple[str, str]]) -> bytes:
    name, address = senders[n % len(senders)]
    msg = EmailMessage(policy=SMTP)
    msg["From"] = f'"{name}" <{address}>'
    msg["To"] = ADDRESS
    if n % 7 == 0:
        msg["Cc"] = senders[(n * 3) % len(senders)][1]
    words = rng.choices(WORDS, k=rng.randint(3, 8))
    if n % 50 == 7:
        words.insert(1, SUBJECT_WORD)
    msg["Subject"] = " ".join(words).capitalize()
    msg["Message-ID"] = f"<bench-{n}@example.org>"
    msg["Date"] = "Wed, 01 Jan 2025 12:00:00 +0000"
    paragraphs = [" ".join(rng.choices(WORDS, k=rng.randint(20, 120))) for _ in range(rng.randint(1, 6))]
    if n % 50 == 13:
        paragraphs.insert(1, f"the {BODY_WORD} has landed")
    text = "\n\n".join(paragraphs)
    if n % 3 == 0:
        msg.set_content(text)
        msg.add_alternative("<html><body>" + "".join(f"<p>{p}</p>" for p in paragraphs) + "</body></html>",
                            subtype="html")
    else:
        msg.set_content(text)
    if n % 10 == 0:
        msg.add_attachment(rng.randbytes(rng.randint(1000, 50000)), maintype="application", subtype="pdf",
                           filename=f"file{n}.pdf")
    return msg.as_bytes()


async def fill(data_dir: str, count: int) -> list[tuple[str, str]]:
    """Deliver count messages to the Inbox; returns the senders' (name, address) pairs."""
    rng = random.Random(1)
    senders = [(f"Sender {i}", f"sender{i}@{rng.choice(['example.org', 'example.com', 'example.net'])}")
               for i in range(300)]
    store = open_store(data_dir)
    account = store.account("mox")
    start = time.time() - YEAR
    try:
        batch = 64  # delivered together, so their index rows share commits
        for first in range(0, count, batch):
            await asyncio.gather(*(
                account.deliver(message(rng, n, senders), flags=["\\Seen"] if n % 4 else [],
                                received=start + n * YEAR / count)
                for n in range(first, min(first + batch, count))))
    finally:
        store.close()
    return senders


def timed(client, method: str, request: dict, calls: int) -> tuple[float, int]:
    """Median milliseconds of calls, and the result's Total."""
    import json

    body = {"request": json.dumps(request)}
    durations = []
    total = 0
    for i in range(calls + 2):
        t0 = time.perf_counter()
        response = client.post(method, data=body)
        elapsed = time.perf_counter() - t0
        response.raise_for_status()
        total = response.json()["Total"]
        if i >= 2:  # the first calls warm caches
            durations.append(elapsed * 1000)
    return statistics.median(durations), total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=10000)
    parser.add_argument("--calls", type=int, default=21)
    args = parser.parse_args()

    import httpx

    with tempfile.TemporaryDirectory() as directory:
        server = LocalServer(os.path.join(directory, "localserve"))
        t0 = time.time()
        senders = asyncio.run(fill(server.config.data_dir(), args.messages))
        print(f"filled the Inbox with {args.messages} messages in {time.time() - t0:.1f} s")
        server.start(timeout=120)
        try:
            cases = [
                ("MessageList page 1", "MessageList", {"Mailbox": "Inbox", "Page": 1}),
                ("MessageList page 400", "MessageList", {"Mailbox": "Inbox", "Page": 400}),
                (f"MessageSearch Subject {SUBJECT_WORD!r}", "MessageSearch", {"Subject": SUBJECT_WORD}),
                (f"MessageSearch Body {BODY_WORD!r}", "MessageSearch", {"Body": BODY_WORD}),
                ("MessageSearch Body 'invoice' (common)", "MessageSearch", {"Body": "invoice"}),
                (f"MessageSearch From {senders[17][1]!r}", "MessageSearch", {"From": senders[17][1]}),
            ]
            with httpx.Client(base_url=server.base_url, auth=(ADDRESS, PASSWORD), timeout=60) as client:
                print(f"{'call':45} {'median ms':>10} {'matches':>8}")
                for label, method, request in cases:
                    ms, total = timed(client, method, request, args.calls)
                    print(f"{label:45} {ms:10.1f} {total:8}")
        finally:
            server.stop()


if __name__ == "__main__":
    main()

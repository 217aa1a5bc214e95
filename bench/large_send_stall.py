#!/usr/bin/env python3
"""How long other clients wait while one client sends a large message: a
webapi Send of a 12 MB form body (2 million "é" in Text, each octet a
%-escape), beside a heartbeat that reads an SMTP banner and answers an
IMAP NOOP every 0.1 s (tests/heartbeat.py).

    .venv/bin/python bench/large_send_stall.py [-runs 3]

Starts a localserve of ours in a temporary directory on free ports, and
prints per run how long the Send took, the slowest beats, and the longest
event-loop stalls the server's watchdog logged (moxpy/watchdog.py), with
where each loop was held up.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import httpx  # noqa: E402

from tests.heartbeat import Heartbeat  # noqa: E402
from tests.localserve import ADDRESS, PASSWORD, LocalServer  # noqa: E402

STALL = re.compile(r"event loop stalled ms=(\d+) in=(\S+ \S+)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-runs", type=int, default=3)
    args = parser.parse_args()
    request = json.dumps({"To": [{"Address": ADDRESS}], "Subject": "large form", "Text": "é" * 2_000_000},
                         ensure_ascii=False)
    server = LocalServer(tempfile.mkdtemp(prefix="stall-")).start()
    try:
        for run in range(1, args.runs + 1):
            logged = len(server.output)
            with Heartbeat(server, limit=60) as beat:
                started = time.monotonic()
                resp = httpx.post(server.base_url + "Send", data={"request": request}, auth=(ADDRESS, PASSWORD),
                                  timeout=120)
                took = time.monotonic() - started
                time.sleep(3)  # the delivery through our own SMTP listener, still beside the heartbeat
            slowest = sorted(((t, name) for name, t in beat.beats), reverse=True)[:3]
            stalls = sorted(((int(m.group(1)), m.group(2)) for line in server.output[logged:]
                             if (m := STALL.search(line))), reverse=True)[:3]
            print(f"run {run}: Send {resp.status_code} in {took:.2f} s; slowest beats: "
                  + ", ".join(f"{name} {t * 1000:.0f} ms" for t, name in slowest))
            for ms, where in stalls:
                print(f"    loop stalled {ms} ms in {where}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()

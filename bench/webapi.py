#!/usr/bin/env python3
"""Benchmark the webapi with wrk: Send and MessageGet requests per second.

    .venv/bin/python bench/webapi.py [--duration 10] [--concurrency 1,8,32]

Starts a localserve in a temporary directory on free ports, runs wrk (Debian
package wrk) against it for each method and concurrency, and prints the
requests per second that answered 200, with the server's memory use. Each
Send is fsync'ed before its 200, and is delivered to the Inbox meanwhile.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import subprocess
import sys
import tempfile
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from procstat import memory  # noqa: E402  (beside this script)
from tests.localserve import ADDRESS, PASSWORD, LocalServer  # noqa: E402

LUA = """
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic {auth}"
local ok = 0
function response(status, headers, body)
  if status ~= 200 then
    io.stderr:write("status " .. status .. ": " .. body .. "\\n")
  end
end
"""


def run_wrk(url: str, body: str, concurrency: int, duration: int, directory: str) -> tuple[float, int]:
    auth = base64.b64encode(f"{ADDRESS}:{PASSWORD}".encode()).decode()
    script = os.path.join(directory, "call.lua")
    with open(script, "w") as f:
        f.write(LUA.format(body=repr(body).replace("'", '"'), auth=auth))
    out = subprocess.run(["wrk", "-t", str(min(concurrency, 4)), "-c", str(concurrency), "-d", f"{duration}s",
                          "-s", script, url], capture_output=True, text=True, check=True)
    total = int(re.search(r"(\d+) requests in", out.stdout).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out.stdout)
    errors = int(bad.group(1)) if bad else 0
    seconds = float(re.search(r"requests in ([\d.]+)(m?s)", out.stdout).group(1))
    unit = re.search(r"requests in [\d.]+(m?s)", out.stdout).group(1)
    seconds = seconds / 1000 if unit == "ms" else seconds
    return (total - errors) / seconds, errors


def queue_entries(server: LocalServer) -> int:
    import sqlite3

    conn = sqlite3.connect(f"file:{os.path.join(server.config.data_dir(), 'mox.db')}?mode=ro", uri=True)
    try:
        return conn.execute("select count(*) from queue").fetchone()[0]
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--concurrency", default="1,8,32")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]

    with tempfile.TemporaryDirectory() as directory:
        server = LocalServer(os.path.join(directory, "localserve")).start()
        try:
            send = "request=" + urllib.parse.quote('{"To": [{"Address": "mox@localhost"}], "Subject": "bench", "Text": "hi"}')
            # One message to read back.
            resp = server.call("Send", {"To": [{"Address": ADDRESS}], "Subject": "get", "Text": "read me"})
            resp.raise_for_status()
            msg_id = server.wait_for(lambda: server.messages())[0]["id"]
            get = "request=" + urllib.parse.quote(f'{{"MsgID": {msg_id}}}')
            print(f"{'method':<12} {'conc':>5} {'req/s (200)':>12} {'errors':>7}")
            for method, body in (("Send", send), ("MessageGet", get)):
                for c in levels:
                    # Let the queue deliver the previous run's messages first.
                    server.wait_for(lambda: not queue_entries(server), timeout=300, interval=0.2)
                    rate, errors = run_wrk(server.base_url + method, body, c, args.duration, directory)
                    print(f"{method:<12} {c:>5} {rate:>12.1f} {errors:>7}", flush=True)
            mem = memory(server.proc.pid)
            print(f"server, summed over {mem['processes']} process(es): RSS now {mem['rss']:.0f} MiB, "
                  f"peak {mem['hwm']:.0f} MiB, PSS {mem['pss']:.0f} MiB; messages stored: {len(server.messages())}")
        finally:
            server.stop()


if __name__ == "__main__":
    main()

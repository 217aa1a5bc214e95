#!/usr/bin/env python3
"""SMTP ingest on the delivery port: messages per second accepted from
Postfix's smtp-source with 8 parallel connections, against a fresh
localserve on free loopback ports.

    .venv/bin/python bench/smtp_ingest.py [--runs 5] [--messages 2000] [--sessions 8] [--size 1024]

smtp-source comes with Debian's postfix package. The daemon is not needed:
`apt-get download postfix && dpkg -x postfix_*.deb DIR` gives DIR/usr/sbin/smtp-source
(run with LD_LIBRARY_PATH=DIR/usr/lib/postfix); point SMTP_SOURCE at it, or
have it on PATH. Each run prints its figure; the median comes last.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from procstat import memory  # noqa: E402  (beside this script)
from tests.localserve import LocalServer  # noqa: E402


def smtp_source() -> list[str]:
    path = os.environ.get("SMTP_SOURCE") or shutil.which("smtp-source")
    if not path:
        sys.exit("smtp-source not found: install postfix's smtp-source or set SMTP_SOURCE (see --help)")
    return [path]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--size", type=int, default=1024)
    args = parser.parse_args()
    command = smtp_source()
    env = dict(os.environ)
    lib = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(command[0]))), "usr", "lib", "postfix")
    if os.path.isdir(lib):
        env["LD_LIBRARY_PATH"] = lib

    rates = []
    with tempfile.TemporaryDirectory() as directory:
        srv = LocalServer(directory).start()
        try:
            idle = memory(srv.proc.pid)
            print(f"idle, summed over {idle['processes']} process(es): RSS {idle['rss']:.1f} MiB, "
                  f"PSS {idle['pss']:.1f} MiB")
            for run in range(args.runs):
                before = len(srv.messages())
                argv = command + ["-c", "-l", str(args.size), "-m", str(args.messages), "-s", str(args.sessions),
                                  "-f", "a@localhost", "-t", "mox@localhost", f"127.0.0.1:{srv.smtp_port}"]
                started = time.monotonic()
                subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
                elapsed = time.monotonic() - started
                stored = len(srv.messages()) - before
                rates.append(stored / elapsed)
                print(f"run {run + 1}: {stored} messages in {elapsed:.2f} s: {stored / elapsed:.0f} msg/s", flush=True)
                if stored != args.messages:
                    print(f"  warning: {args.messages - stored} messages not stored")
            print(f"peak RSS, summed over the processes: {memory(srv.proc.pid)['hwm']:.1f} MiB")
        finally:
            srv.stop()
    shown = " ".join([os.path.basename(argv[0])] + argv[1:-1])
    print(f"median: {statistics.median(rates):.0f} msg/s ({shown} 127.0.0.1:PORT)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

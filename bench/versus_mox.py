#!/usr/bin/env python3
"""Side by side with mox: webapi Send and MessageGet per second, CPU and memory.

    sudo .venv/bin/python bench/versus_mox.py --mox PATH/TO/mox [--duration 10] [--runs 3]
    .venv/bin/python bench/versus_mox.py            # ours only

Runs, one after the other in one run of this script, a fresh `mox localserve`
(when --mox names a mox binary) and a fresh localserve of ours, and for each
drives wrk (Debian package wrk) at concurrency 1, 8 and 32 against Send (a
1 KB text message to the account itself, so every Send is also delivered
to the Inbox meanwhile) and at concurrency 8 against MessageGet. Only 200s
are counted; each figure is the median of --runs runs of --duration seconds.
Between runs the queue is given up to 15 s to drain; ours does, mox's
localserve queue (about 10 deliveries per second here) does not, so its
later runs compete with its backlog, as they would in use.

It prints per server: requests/s, the server's CPU use during the Send runs
(in cores, summed over its processes), and its memory (VmRSS after one
Send, VmHWM at the end, and PSS, which counts pages the processes share
once; each summed over the processes).

mox needs two changes to its generated localserve config, both as
PERFORMANCE.md describes: its per-IP HTTP rate limit is disabled, and it
gets a resolver on loopback that answers for localhost, so its own
deliveries pass its checks. For the resolver the script re-runs itself,
as root, in a new network and mount namespace (`unshare -nm`), with a DNS
server on 127.0.0.1:53 and /etc/resolv.conf pointing at it there; nothing
outside that namespace changes.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

import httpx

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from procstat import cpu_seconds, memory  # noqa: E402  (beside this script)
from tests.localserve import ADDRESS, PASSWORD, LocalServer  # noqa: E402

TEXT = ("The quick brown fox jumps over the lazy dog. " * 23)[:1024]
SEND = {"To": [{"Address": ADDRESS}], "Subject": "bench", "Text": TEXT}

LUA = """
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic {auth}"
"""


def wrk(url: str, body: str, concurrency: int, duration: int, directory: str) -> float:
    auth = base64.b64encode(f"{ADDRESS}:{PASSWORD}".encode()).decode()
    script = os.path.join(directory, "call.lua")
    with open(script, "w") as f:
        f.write(LUA.format(body='"' + body + '"', auth=auth))
    out = subprocess.run(["wrk", "-t", str(min(concurrency, 4)), "-c", str(concurrency), "-d", f"{duration}s",
                          "-s", script, url], capture_output=True, text=True, check=True).stdout
    total = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    value, unit = re.search(r"requests in ([\d.]+)(m?s)", out).groups()
    seconds = float(value) / (1000 if unit == "ms" else 1)
    return (total - (int(bad.group(1)) if bad else 0)) / seconds


class Target:
    """A running server: its webapi URL, its pid, and how to count its Inbox."""

    name = ""
    url = ""
    pid = 0

    def inbox_count(self) -> int:
        import imaplib

        with imaplib.IMAP4("127.0.0.1", self.imap_port) as c:
            c.login(ADDRESS, PASSWORD)
            _, data = c.status("Inbox", "(MESSAGES)")
            return int(re.search(rb"MESSAGES (\d+)", data[0]).group(1))

    def send(self) -> int:
        r = httpx.post(self.url + "Send", data={"request": json.dumps(SEND)}, auth=(ADDRESS, PASSWORD), timeout=30)
        r.raise_for_status()
        return r.status_code


class Ours(Target):
    name = "ours"

    def __init__(self, directory: str, processes: int = 0):
        configure = (lambda config: setattr(config, "Processes", processes)) if processes else None
        self.server = LocalServer(os.path.join(directory, f"ours{processes or ''}"), configure).start()
        if processes:
            self.name = f"ours/{processes}p"
        self.url = self.server.base_url
        self.pid = self.server.proc.pid
        self.imap_port = self.server.ports["IMAP"]

    def stop(self) -> None:
        self.server.stop()


class Mox(Target):
    name = "mox"

    def __init__(self, binary: str, directory: str):
        self.directory = os.path.join(directory, "mox")
        subprocess.run([binary, "localserve", "-dir", self.directory, "-initonly"], check=True,
                       capture_output=True)
        config = os.path.join(self.directory, "mox.conf")
        with open(config) as f:
            text = f.read()
        # sconf: tab-indented; the option goes inside the listener's WebserverHTTP block.
        text, n = re.subn(r"(\n(\t+)WebserverHTTP:\n)", lambda m: m.group(1) + m.group(2) + "\tRateLimitDisabled: true\n", text)
        if n != 1:
            raise SystemExit("mox.conf: no WebserverHTTP section to disable its rate limit in")
        with open(config, "w") as f:
            f.write(text)
        self.log = open(os.path.join(directory, "mox.log"), "w")
        self.proc = subprocess.Popen([binary, "localserve", "-dir", self.directory], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.pid = self.proc.pid
        self.url = "http://127.0.0.1:1080/webapi/v0/"
        self.imap_port = 1143
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(self.url, timeout=1)
                break
            except httpx.HTTPError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"mox localserve did not start; see {self.log.name}")
                time.sleep(0.2)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def measure(target: Target, args, directory: str) -> dict:
    send_body = "request=" + urllib.parse.quote(json.dumps(SEND))
    get_body = "request=" + urllib.parse.quote('{"MsgID": 1}')
    target.send()
    settle(target, at_least=1, timeout=60)
    idle = memory(target.pid)
    result = {"rss_idle": idle["rss"], "pss_idle": idle["pss"], "processes": idle["processes"]}
    cpu_used = wall = 0.0
    for c in args.concurrency:
        rates = []
        for _ in range(args.runs):
            before_cpu, before = cpu_seconds(target.pid), time.monotonic()
            rates.append(wrk(target.url + "Send", send_body, c, args.duration, directory))
            cpu_used += cpu_seconds(target.pid) - before_cpu
            wall += time.monotonic() - before
            settle(target)  # the queue delivers what was accepted, so the next run starts idle
        result[f"send_c{c}"] = statistics.median(rates)
        print(f"  {target.name}: Send c={c}: {[round(r) for r in rates]}", flush=True)
    result["send_cores"] = cpu_used / wall if wall else 0.0
    rates = [wrk(target.url + "MessageGet", get_body, 8, args.duration, directory) for _ in range(args.runs)]
    result["get_c8"] = statistics.median(rates)
    print(f"  {target.name}: MessageGet c=8: {[round(r) for r in rates]}", flush=True)
    end = memory(target.pid)
    result["rss_peak"], result["pss_end"] = end["hwm"], end["pss"]
    return result


def settle(target: Target, at_least: int = 0, quiet: float = 1.0, timeout: float = 15) -> None:
    """Wait until the Inbox count stops growing (the queue has delivered what was accepted),
    or timeout seconds: mox's localserve queue delivers about 10 per second, and would
    take most of an hour to catch up with a run of Sends."""
    last, since, deadline = -1, time.monotonic(), time.monotonic() + timeout
    while time.monotonic() < deadline:
        count = target.inbox_count()
        if count != last:
            last, since = count, time.monotonic()
        elif count >= at_least and time.monotonic() - since >= quiet:
            return
        time.sleep(0.2)


def in_namespace(args) -> None:
    """Give mox a loopback resolver: this script again, in new network and mount namespaces."""
    with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
        f.write("nameserver 127.0.0.1\n")
    inner = (f"ip link set lo up && mount --bind {f.name} /etc/resolv.conf && "
             f"exec {sys.executable} {os.path.abspath(__file__)} --inside " + " ".join(sys.argv[1:]))
    os.execvp("unshare", ["unshare", "-nm", "sh", "-c", inner])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mox", help="a mox binary to compare with")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--processes", default="",
                        help="comma-separated Processes settings to run ours with, one after the other (default: the "
                             "server's own choice)")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    if shutil.which("wrk") is None:
        raise SystemExit("needs wrk (apt-get install wrk)")
    if args.mox and not args.inside:
        if os.geteuid() != 0:
            raise SystemExit("comparing with mox needs root, for the namespace with its resolver")
        in_namespace(args)

    dns = None
    if args.mox:
        from tests.dnsserver import DNSServer

        dns = DNSServer({("localhost", "A"): ["127.0.0.1"], ("localhost", "AAAA"): ["::1"],
                         ("localhost", "TXT"): ["v=spf1 ip4:127.0.0.1 ip6:::1 -all"]}).start(port=53)

    results = {}
    with tempfile.TemporaryDirectory() as directory:
        ours = [lambda p=int(p): Ours(directory, p) for p in args.processes.split(",")] if args.processes \
            else [lambda: Ours(directory)]
        for make in ([lambda: Mox(args.mox, directory)] if args.mox else []) + ours:
            target = make()
            try:
                results[target.name] = measure(target, args, directory)
            finally:
                target.stop()
    if dns:
        dns.stop()

    names = list(results)
    print()
    print(f"{'figure':<26}" + "".join(f"{n:>10}" for n in names) + (f"   {names[1]}/{names[0]}" if len(names) == 2 else ""))
    rows = [f"send_c{c}" for c in args.concurrency] + ["get_c8", "send_cores", "processes", "rss_idle", "rss_peak",
                                                       "pss_idle", "pss_end"]
    labels = {f"send_c{c}": f"Send/s c={c}" for c in args.concurrency}
    labels.update(get_c8="MessageGet/s c=8", send_cores="cores used under Send", processes="processes",
                  rss_idle="RSS idle MiB", rss_peak="RSS peak MiB", pss_idle="PSS idle MiB", pss_end="PSS at end MiB")
    for row in rows:
        values = [results[n][row] for n in names]
        line = f"{labels[row]:<26}" + "".join(f"{v:>10.1f}" for v in values)
        if len(values) == 2 and values[0]:
            line += f"{values[1] / values[0]:>10.2f}x"
        print(line)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Memory of an idle localserve: RSS and PSS after one Send, and what each import costs.

    .venv/bin/python bench/memory.py [--runs 3]
    .venv/bin/python bench/memory.py --imports [--all]

Starts a localserve of ours in a temporary directory on free ports, makes
one webapi Send to the account itself, waits until the queue has delivered
it to the Inbox (seen by reading the account's store from here, so the
server serves nothing but the Send and its delivery), waits a second more
for the server to settle, and prints, summed over the server's process and
all its descendants: VmRSS, PSS (from /proc/PID/smaps_rollup, which counts
pages shared between the processes once) and VmHWM (the peak RSS). With
--runs N it does that N times with fresh servers and prints the median.

--imports runs the same scenario with PYTHONPROFILEIMPORTTIME set, so the
server logs every module it imports (at start and later, for the Send and
its delivery). A fresh interpreter then imports those modules in the order
the server finished importing them, measuring for each module loaded the
RSS it adds itself (its growth while loading, less that of the modules it
imports in turn). The modules are grouped by top-level package (moxpy's
own by subpackage); "own" sums a group's modules, and the column adds up
to what the imports cost. "alone" is what the group costs imported by
itself in a fresh interpreter, with everything it imports in turn (shared
dependencies are counted in every group that uses them): about what
leaving the group out would save if nothing else needed them. Groups
under 0.1 MiB are summed in one line unless --all is given.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import httpx

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from procstat import memory  # noqa: E402  (beside this script)
from tests.localserve import ADDRESS, PASSWORD, LocalServer  # noqa: E402

SEND = {"To": [{"Address": ADDRESS}], "Subject": "memory", "Text": "One message, to see the server at rest.\n"}

# Run in a fresh interpreter: import the modules given as JSON on stdin, in
# that order, and print as JSON VmRSS in KiB before and after, and what each
# module loaded added itself: the RSS growth while it was loaded, less that of
# the modules it imported in turn (as -X importtime does for time). The hook
# is importlib's private _load_unlocked, which loads (creates and executes)
# one module; measuring there puts a package's __init__ and what it imports
# where they belong, whichever submodule asked for them.
STEPPER = """
import _frozen_importlib, importlib, json, sys

def rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])

own, nested = {}, []
load = _frozen_importlib._load_unlocked

def measured(spec):
    start = rss()
    nested.append(0)
    try:
        return load(spec)
    finally:
        total = rss() - start
        own[spec.name] = own.get(spec.name, 0) + total - nested.pop()
        if nested:
            nested[-1] += total

modules = json.load(sys.stdin)
before = rss()
_frozen_importlib._load_unlocked = measured
for name in modules:
    try:
        importlib.import_module(name)
    except BaseException:
        pass  # a module the server imported in a way this cannot repeat; the others still count
_frozen_importlib._load_unlocked = load
print(json.dumps({"before": before, "after": rss(), "own": own}))
"""


def one_send(server: LocalServer) -> None:
    """A Send to the account itself, and its delivery to the Inbox."""
    r = httpx.post(server.base_url + "Send", data={"request": json.dumps(SEND)}, auth=(ADDRESS, PASSWORD),
                   timeout=30)
    r.raise_for_status()
    server.wait_for(lambda: any(m["mailbox"] == "Inbox" for m in server.messages()), timeout=30, interval=0.1)
    time.sleep(1)


def idle_server(directory: str) -> tuple[LocalServer, dict[str, float]]:
    """A started server that has made one Send, and its memory then; the caller stops it."""
    server = LocalServer(directory).start()
    try:
        one_send(server)
        return server, memory(server.proc.pid)
    except BaseException:
        server.stop()
        raise


def cmd_idle(runs: int) -> None:
    results = []
    for i in range(runs):
        with tempfile.TemporaryDirectory() as directory:
            server, figures = idle_server(directory)
            server.stop()
        results.append(figures)
        print(f"run {i + 1}: VmRSS {figures['rss']:.1f} MiB, PSS {figures['pss']:.1f} MiB, "
              f"VmHWM {figures['hwm']:.1f} MiB, {figures['processes']} process(es)", flush=True)
    print()
    print(f"idle after one Send (median of {runs}, MiB, summed over {results[0]['processes']} process(es)):")
    for key, label in (("rss", "VmRSS"), ("pss", "PSS"), ("hwm", "VmHWM")):
        print(f"  {label:<6} {statistics.median(r[key] for r in results):6.1f}")


IMPORT_LINE = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|(\s*)(\S+)\s*$")


def imported_modules(output: list[str]) -> list[str]:
    """The modules in -X importtime lines, in the order they finished importing."""
    seen, order = set(), []
    for line in output:
        m = IMPORT_LINE.match(line.rstrip("\n"))
        if m and m.group(2) not in seen:
            seen.add(m.group(2))
            order.append(m.group(2))
    return order


def group_of(module: str, modules: set[str]) -> str:
    """A module's group: its top-level package, moxpy's by subpackage; a C module _name goes
    with name when the server has both (_ssl with ssl)."""
    parts = module.split(".")
    if parts[0] == "moxpy":
        return ".".join(parts[:2])
    if parts[0].startswith("_") and parts[0][1:] in modules:
        return parts[0][1:]
    return parts[0]


def step(modules: list[str]) -> dict:
    """A fresh interpreter's VmRSS before and after importing the modules, and each module's own part (KiB)."""
    out = subprocess.run([sys.executable, "-c", STEPPER], input=json.dumps(modules), capture_output=True,
                         text=True, check=True, cwd=ROOT).stdout
    return json.loads(out)


def cmd_imports(show_all: bool) -> None:
    os.environ["PYTHONPROFILEIMPORTTIME"] = "1"
    try:
        with tempfile.TemporaryDirectory() as directory:
            server, figures = idle_server(directory)
            server.stop()
            output = list(server.output)
    finally:
        del os.environ["PYTHONPROFILEIMPORTTIME"]
    modules = imported_modules(output)
    replay = step(modules)
    names = set(replay["own"])
    own: dict[str, float] = {}
    members: dict[str, list[str]] = {}
    for module, kib in replay["own"].items():
        group = group_of(module, names)
        own[group] = own.get(group, 0.0) + kib / 1024
        members.setdefault(group, []).append(module)
    shown = [g for g in sorted(own, key=lambda g: -own[g]) if show_all or own[g] >= 0.1]
    alone = {}
    for group in shown:
        result = step(members[group])
        alone[group] = (result["after"] - result["before"]) / 1024

    print(f"server idle after one Send: VmRSS {figures['rss']:.1f} MiB, PSS {figures['pss']:.1f} MiB "
          f"(with the import-time log)")
    print(f"a fresh interpreter: {replay['before'] / 1024:.1f} MiB; after the {len(names)} modules the server "
          f"imported: {replay['after'] / 1024:.1f} MiB")
    print()
    print(f"{'group':<28}{'modules':>8}{'own':>8}{'alone':>8}   MiB")
    for group in shown:
        print(f"{group:<28}{len(members[group]):>8}{own[group]:>8.2f}{alone[group]:>8.2f}")
    rest = [g for g in own if g not in alone]
    if rest:
        print(f"{f'({len(rest)} other groups)':<28}{sum(len(members[g]) for g in rest):>8}"
              f"{sum(own[g] for g in rest):>8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1, help="fresh servers to measure; the median is printed")
    parser.add_argument("--imports", action="store_true", help="the RSS cost of each import group")
    parser.add_argument("--all", action="store_true", help="with --imports: every group, however small")
    args = parser.parse_args()
    if args.imports:
        cmd_imports(args.all)
    else:
        cmd_idle(args.runs)


if __name__ == "__main__":
    main()

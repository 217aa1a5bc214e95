"""What the benchmarks read of a server's processes from /proc: the process
tree (a server may run as more than one process), its CPU time and its
memory, summed over the tree. Linux only."""

from __future__ import annotations

import os


def process_tree(pid: int) -> list[int]:
    """pid and its descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(ppid, []).append(int(entry))
    result, todo = [], [pid]
    while todo:
        p = todo.pop()
        result.append(p)
        todo.extend(children.get(p, []))
    return result


def kib_fields(path: str, names: tuple[str, ...]) -> dict[str, int]:
    """The named 'Name:   123 kB' lines of a /proc file, in KiB."""
    found = {}
    with open(path) as f:
        for line in f:
            name, _, value = line.partition(":")
            if name in names:
                found[name] = int(value.split()[0])
    return found


def cpu_seconds(pid: int) -> float:
    total = 0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def memory(pid: int) -> dict[str, float]:
    """VmRSS, PSS and VmHWM in MiB, summed over the process tree, and the number of processes."""
    total = {"rss": 0, "pss": 0, "hwm": 0, "processes": 0}
    for p in process_tree(pid):
        try:
            status = kib_fields(f"/proc/{p}/status", ("VmRSS", "VmHWM"))
            rollup = kib_fields(f"/proc/{p}/smaps_rollup", ("Pss",))
        except OSError:
            continue  # gone meanwhile
        total["rss"] += status.get("VmRSS", 0)
        total["hwm"] += status.get("VmHWM", 0)
        total["pss"] += rollup.get("Pss", 0)
        total["processes"] += 1
    return {k: v / 1024 if k != "processes" else v for k, v in total.items()}

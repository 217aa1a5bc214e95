"""Reading a test server's queue tables and running `mox.py queue` against it."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

from .localserve import ROOT


def rows(server, table: str, where: str = "1", params: tuple = ()) -> list[dict]:
    path = os.path.join(server.config.data_dir(), "mox.db")
    if not os.path.exists(path):
        return []
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(f"select * from {table} where {where} order by id", params)]
    finally:
        conn.close()


def entry(server, queue_id: int) -> dict | None:
    """The entry with this id, from the queue or else the retired table, with "table" set."""
    for table in ("queue", "retired"):
        found = rows(server, table, "id = ?", (queue_id,))
        if found:
            return dict(found[0], table=table)
    return None


def retired(server, queue_id: int) -> dict | None:
    found = rows(server, "retired", "id = ?", (queue_id,))
    return found[0] if found else None


def mox(server, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run `mox.py ARGS...` as an operator would; queue commands get `-dir DIR`."""
    extra = ["-dir", server.directory] if args[0] == "queue" else []
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "mox.py"), *args, *extra],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    if check and proc.returncode != 0:
        raise AssertionError(f"mox {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def send(server, request: dict, **kwargs) -> dict:
    response = server.call("Send", request, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()

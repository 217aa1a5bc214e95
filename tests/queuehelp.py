"""The delivery queue and webhook queue of a test server, read through the
stores' public API (as the `mox.py queue` commands do), and running
`mox.py queue` against it.

Every function takes a server object with a `config` (LocalServer, the
in-process SMTP server, a `mox serve` process): its data directory's
server database is opened once, beside the running server, and closed at
exit.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys

from moxpy.store import backend
from moxpy.store.queue import Entry, EntryFilter, OutboxDSN, RetiredEntry
from moxpy.store.sqlite.serverdb import ServerDatabase
from moxpy.store.webhooks import RetiredWebhook, Webhook, WebhookFilter

from .localserve import ROOT

_open: dict[str, ServerDatabase] = {}


def _database(server) -> ServerDatabase | None:
    data_dir = server.config.data_dir()
    db = _open.get(data_dir)
    if db is None:
        if backend.postgresql(server.config):
            db = _open[data_dir] = backend.server_database(server.config)
            return db
        if not os.path.exists(os.path.join(data_dir, "mox.db")):
            return None  # the server has not started yet
        db = _open[data_dir] = ServerDatabase(data_dir)
    return db


@atexit.register
def _close_all() -> None:
    for db in _open.values():
        db.close()
    _open.clear()


def queued(server, **where) -> list[Entry]:
    """Entries in the queue; where: EntryFilter fields (ids, account, domain, to, hold)."""
    db = _database(server)
    return db.queue.queued(EntryFilter(**where)) if db else []


def retired_entries(server, **where) -> list[RetiredEntry]:
    """Retired entries, most recent first; where: EntryFilter fields."""
    db = _database(server)
    return db.queue.retired(EntryFilter(**where)) if db else []


def entry(server, queue_id: int) -> Entry | RetiredEntry | None:
    """The entry with this id: queued, or else retired."""
    found = queued(server, ids=[queue_id]) or retired_entries(server, ids=[queue_id])
    return found[0] if found else None


def retired(server, queue_id: int) -> RetiredEntry | None:
    found = retired_entries(server, ids=[queue_id])
    return found[0] if found else None


def message(server, entry: Entry) -> bytes:
    """The message a queue entry delivers."""
    return _database(server).queue.message(entry)


def outbox(server) -> list[OutboxDSN]:
    """DSNs not yet stored in their sender's Inbox."""
    db = _database(server)
    return db.queue.pending_dsns() if db else []


def webhooks(server, **where) -> list[Webhook]:
    """Webhooks in the queue; where: WebhookFilter fields (ids, account, event, queue_msg_id)."""
    db = _database(server)
    return db.webhooks.queued(WebhookFilter(**where)) if db else []


def retired_webhooks(server, **where) -> list[RetiredWebhook]:
    db = _database(server)
    return db.webhooks.retired(WebhookFilter(**where)) if db else []


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

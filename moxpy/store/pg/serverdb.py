"""The server database on PostgreSQL: the tables of ../sqlite/serverdb.py,
made by the same schema function, and the same stores over them.

Nodes of one server share the database and no filesystem, so the queue
keeps every message's bytes in queue_messages, whatever its size.

Several nodes may share the database: each claims the due queue entries
and webhooks it attempts, under a name of its own (node), with a lease
(see ../sqlite/leases.py).
"""

from __future__ import annotations

import secrets

from ..sqlite.serverdb import ServerDatabase, schema
from .db import PgDatabase


class PgServerDatabase(ServerDatabase):
    """ServerDatabase over the PostgreSQL database at dsn; node names this process in claims (a new
    random name by default: a restarted node takes over its old claims when their leases end)."""

    def __init__(self, dsn: str, node: str | None = None):
        self.node = node or secrets.token_hex(8)
        self._open(PgDatabase(dsn, schema, name="server database"), None, self.node)

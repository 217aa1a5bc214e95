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

from ..sqlite import leases
from ..sqlite.serverdb import MIGRATIONS, ServerDatabase
from . import pool
from .db import PgDatabase


class PgServerDatabase(ServerDatabase):
    """ServerDatabase over the PostgreSQL database at dsn; node names this node in claims (a new random name
    by default: a restarted node takes over its old claims when their leases end), lease how long a claim
    holds unless renewed (renew_claims), readers the size of the process's pool of read connections."""

    def __init__(self, dsn: str, node: str | None = None, lease: float = leases.LEASE, readers: int = pool.SIZE):
        self.node = node or secrets.token_hex(8)
        self._open(PgDatabase(dsn, lambda conn: MIGRATIONS.upgrade(conn, "the server database"),
                              name="server database", readers=readers), None, self.node)
        self.claim_lease = self.queue.lease = self.webhooks.lease = lease

    def renew_claims(self, now: float) -> int:
        return leases.renew(self.db, ("queue", "webhooks"), self.node, now, self.claim_lease)

"""The server database on PostgreSQL: the tables of ../sqlite/serverdb.py,
made by the same schema function, and the same stores over them.

Nodes of one server share the database and no filesystem, so the queue
keeps every message's bytes in queue_messages, whatever its size.
"""

from __future__ import annotations

from ..sqlite.serverdb import ServerDatabase, schema
from .db import Database


class PgServerDatabase(ServerDatabase):
    """ServerDatabase over the PostgreSQL database at dsn."""

    def __init__(self, dsn: str):
        self._open(Database(dsn, schema, name="server database"), None)

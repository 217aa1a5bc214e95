"""Claims on due queue entries and webhooks when several nodes share one
database (PostgreSQL); a single SQLite server takes none.

One process delivers from a SQLite database, and the worker's own set of
entries in flight keeps it from attempting one twice. Nodes sharing a
PostgreSQL database each have such a set, but see each other's entries as
due. So on PostgreSQL the read that finds due rows (the queue's due(),
the webhook sender's due()) claims them as well, in one statement:

    update T set lease_node = <this node>, lease_until = <now + lease>
    where id in (select id from T where <due> and <lease free or ours>
                 order by next_attempt, id limit N for update skip locked)
    returning *

The inner select locks the rows it picks and skips the rows another node's
claim has locked at that moment; a row claimed and committed just before
is read again under its lock and no longer matches, its lease not being
free. So no row is handed to two nodes at once. The statement commits by
itself (the read connection is in autocommit), and the claim is durable
before the caller acts on it.

A claim is a lease, not a lock held by a connection: it holds until
lease_until, and a live node renews its leases well before they end
(renew, every lease/3), so a node that dies or loses its connection
mid-attempt holds its rows at most one lease longer. Then another node
takes them over: a queue entry still marked delivering (in doubt: it may
have arrived) goes through the same reconciliation as after a crash of a
single server (queue/recovery.py, which on PostgreSQL claims such entries
too, and which the queue worker runs every lease/3 there), before it is
due again; other rows are claimed like any due row. A
node releases a row's lease when it records the outcome (lease_until 0),
so a retry due soon may go to any node. The webhook sender posts to one URL
one request at a time; across nodes likewise: while a node holds a live
lease on a webhook of a URL, the others leave that URL alone.

Leases take the times the callers pass (now), so they follow the same clock
as next_attempt; nodes are expected to keep their clocks in step (NTP).
"""

from __future__ import annotations

from typing import Any

from .. import dialect

# How long a claim holds unless renewed (the config's PostgreSQL.ClaimLease); renewed every third of it.
LEASE = 60.0
QUEUE_LEASE = WEBHOOK_LEASE = LEASE


def in_use(conn_or_db: Any) -> bool:
    """Whether rows are claimed with leases: on PostgreSQL, where nodes may share the database."""
    return dialect.of(conn_or_db) == dialect.POSTGRESQL


def add_columns(conn: Any, table: str) -> None:
    """Give a table the lease columns (lease_node, lease_until), when it has them not yet."""
    present = dialect.table_columns(conn, table)
    if "lease_node" not in present:
        conn.execute(f"alter table {table} add column lease_node text not null default ''")
    if "lease_until" not in present:
        conn.execute(f"alter table {table} add column lease_until real not null default 0")


def claim(db: Any, table: str, due: str, params: list, node: str, now: float, lease: float, limit: int) -> list:
    """Claim up to limit rows of table matching the condition due (with params), free or already this
    node's, in the order they are due; their rows, in that order."""
    rows = db.query(
        f"""update {table} set lease_node = ?, lease_until = ? where id in (
                select id from {table} where ({due}) and (lease_until <= ? or lease_node = ?)
                order by next_attempt, id limit ? for update skip locked)
            returning *""", [node, now + lease, *params, now, node, limit])
    return sorted(rows, key=lambda r: (r["next_attempt"], r["id"]))


def renew(db: Any, tables: tuple[str, ...], node: str, now: float, lease: float) -> int:
    """Extend this node's live claims by a lease from now; how many."""
    return sum(len(db.query(f"update {t} set lease_until = ? where lease_node = ? and lease_until > ? returning id",
                            [now + lease, node, now])) for t in tables)


def next_due(node: str) -> tuple[str, list]:
    """The time a row can next be claimed by this node, as an SQL expression: when it is due, or when
    another node's lease on it ends if that is later."""
    return ("greatest(next_attempt, case when lease_node = ? then 0 else lease_until end)", [node])

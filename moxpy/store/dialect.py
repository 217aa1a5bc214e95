"""What differs between the two SQL engines the stores run on, for the
few statements that cannot be written once for both: each helper takes a
write function's connection or a Database (SQLite's: sqlite3.Connection
and db.Database; PostgreSQL's: pg.db.Connection and pg.db.PgDatabase, which
say dialect = "postgresql").
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

SQLITE = "sqlite"
POSTGRESQL = "postgresql"


def of(conn_or_db: Any) -> str:
    return getattr(conn_or_db, "dialect", SQLITE)


def table_columns(conn: Any, table: str) -> set[str]:
    """The names of a table's columns; empty when there is no such table."""
    if of(conn) == POSTGRESQL:
        rows = conn.execute("select column_name from information_schema.columns "
                            "where table_schema = current_schema() and table_name = ?", (table,)).fetchall()
        return {r[0] for r in rows}
    return {r[1] for r in conn.execute(f"pragma table_info({table})")}


def greatest(conn_or_db: Any) -> str:
    """The name of the function that gives the largest of its arguments (SQLite's max with two or more)."""
    return "greatest" if of(conn_or_db) == POSTGRESQL else "max"


def least(conn_or_db: Any) -> str:
    return "least" if of(conn_or_db) == POSTGRESQL else "min"


def in_list(conn_or_db: Any, column: str, values: Sequence[Any]) -> tuple[str, Any]:
    """A condition that column is one of values, with one parameter whatever their number: (SQL, parameter)."""
    if of(conn_or_db) == POSTGRESQL:
        return f"{column} = any(?)", list(values)
    return f"{column} in (select value from json_each(?))", json.dumps(list(values))


def instr(conn_or_db: Any) -> str:
    """The name of the function giving the 1-based position of a string in another, 0 when absent."""
    return "strpos" if of(conn_or_db) == POSTGRESQL else "instr"


def boolean(conn_or_db: Any, value: bool) -> str:
    """A condition that is always true or always false (PostgreSQL's where takes no integers)."""
    if of(conn_or_db) == POSTGRESQL:
        return "true" if value else "false"
    return "1" if value else "0"


def upsert(table: str, columns: Sequence[str], keys: Sequence[str]) -> str:
    """An insert of columns that replaces the row with the same keys (SQLite's "insert or replace"), in
    the form both engines take; its parameters are the columns' values in order."""
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in keys)
    return (f"insert into {table} ({', '.join(columns)}) values ({', '.join('?' * len(columns))}) "
            f"on conflict ({', '.join(keys)}) do " + (f"update set {updates}" if updates else "nothing"))


def lock_tx(conn: Any, key: str) -> None:
    """Hold a lock named key until the transaction ends, so that transactions of other nodes taking the same
    lock wait for this one (SQLite's writer is one at a time already; PostgreSQL: an advisory lock)."""
    if of(conn) == POSTGRESQL:
        conn.execute("select pg_advisory_xact_lock(hashtextextended(?, 0))", (key,))


def contains(conn_or_db: Any, text: str) -> str:
    """A condition that the parameter occurs in text (case-sensitive on both engines)."""
    return f"{instr(conn_or_db)}({text}, ?) > 0"

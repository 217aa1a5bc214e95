"""Storage errors that are expected rather than bugs: a full disk or an exceeded disk quota.

Such an error is temporary: listeners answer that storage is full (SMTP 452
4.3.1, IMAP NO [OVERQUOTA], webapi code "server" with STORAGE_FULL) and log
one line, without a traceback. A write that fails so leaves nothing behind:
the message file is removed and the database transaction rolled back.
"""

from __future__ import annotations

import errno
import logging
import sqlite3
import sys

from .migrations import SchemaVersionError

STORAGE_FULL = "mail storage full, try again later"  # for people, in the listeners' answers
STORAGE_UNAVAILABLE = "mail storage unavailable, try again later"


def storage_error(error: BaseException) -> bool:
    """Whether error is the database's own (SQLite's, or PostgreSQL's when that backend is in use), or a
    database's schema version this program cannot use (migrations.py)."""
    if isinstance(error, (sqlite3.Error, SchemaVersionError)):
        return True
    psycopg = sys.modules.get("psycopg")  # loaded only by the PostgreSQL backend
    return psycopg is not None and isinstance(error, psycopg.Error)


def storage_unavailable(error: BaseException) -> bool:
    """Whether error is the database being out of reach: PostgreSQL down, restarting or cut off (a connection
    that failed or broke, or none free in time). Temporary, as a full disk is."""
    psycopg = sys.modules.get("psycopg")
    return psycopg is not None and isinstance(error, psycopg.OperationalError) and getattr(error, "sqlstate", None) in (
        None, "08000", "08001", "08003", "08004", "08006", "57P01", "57P02", "57P03")


def log_failure(logger: logging.Logger, what: str, error: BaseException) -> None:
    """Log what failed with error: one line when the database is out of reach (temporary, and said every
    time the work is tried again), else with the traceback."""
    if storage_unavailable(error):
        logger.warning("%s: %s: %s", what, STORAGE_UNAVAILABLE, error)
    else:
        logger.error("%s", what, exc_info=error)


def storage_full(error: BaseException | None) -> bool:
    """Whether error, or an error it was raised from, is ENOSPC, EDQUOT, SQLite's SQLITE_FULL or PostgreSQL's disk_full."""
    for _ in range(10):  # a chain of causes is short; a cycle must not loop
        if error is None:
            return False
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if isinstance(error, sqlite3.Error) and getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
            return True
        if getattr(error, "sqlstate", None) in ("53100", "53400"):  # PostgreSQL: disk full, configured limit
            return True
        error = error.__cause__ or error.__context__
    return False

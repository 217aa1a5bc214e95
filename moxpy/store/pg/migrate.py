"""Moving a stopped server's SQLite data directory into an empty
PostgreSQL database (`mox.py storage migrate -to postgresql`).

The tables are made by the PostgreSQL stores' own schema functions
(PgServerDatabase, PgStorage), then filled with every row of the SQLite
tables, ids included, so UIDs, UIDVALIDITY, modseqs, the change log and
flags are what they were: an IMAP client does not notice the move. The
identity sequences are set past the copied ids (and past the ids SQLite's
AUTOINCREMENT handed out already), so none is given twice.

What is stored differently on PostgreSQL is converted through the code
that writes it there: message files become message_contents chunks
(MessageTable.store_tx), the full-text words are normalized
(summaries.insert_text_tx), and queued messages kept in files under
queue/ become queue_messages rows, their entries' path renamed to a row's.

Each database (the server's, each account's) is copied in one
transaction. Afterwards the row counts of both sides are compared, and
every message's bytes read back through the PostgreSQL stores.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg
import psycopg.conninfo

from .. import migrations
from ..files import read_message_file
from ..queue import EntryFilter
from ..sqlite import SQLiteAccount, summaries
from ..sqlite.bodies import MessageFiles
from ..sqlite.queue import ROW_PREFIX, in_database
from ..sqlite.serverdb import ServerDatabase
from .accounts import PgStorage, quoted, schema_name
from .db import Connection, connect, one_line
from .serverdb import PgServerDatabase

BATCH = 500  # rows read and inserted at a time
# SQLite's FTS5 table and its shadow tables: copied as words, not as rows.
FULLTEXT = "message_text"
# The byte of an SQLite WAL database's -shm file that every connection holds a shared lock on while it has the
# database open (SQLite's unix VFS: the "dead man switch" after the 8 WAL locks at offset 120).
SHM_DMS_OFFSET = 128


class MigrationError(Exception):
    """Why the data cannot be moved: one line for the operator."""


@dataclass
class MigrationSummary:
    accounts: int = 0
    messages: int = 0
    queued: int = 0
    octets: int = 0
    problems: list[str] = field(default_factory=list)


def redacted(dsn: str) -> str:
    """The DSN without its password, to show."""
    try:
        params = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.Error:
        return "(not a valid DSN)"
    params.pop("password", None)
    return psycopg.conninfo.make_conninfo(**params)


def migrate(data_dir: str, dsn: str, say: Callable[[str], None] = print) -> MigrationSummary:
    """Copy the data directory's databases into the empty database at dsn and verify the copy."""
    server_path = os.path.join(data_dir, "mox.db")
    if not os.path.exists(server_path):
        raise MigrationError(f"no server database at {server_path}: has the server run with this config?")
    accounts = _account_directories(data_dir)
    for path in [server_path] + [os.path.join(d, "index.db") for d in accounts.values()]:
        if in_use(path):
            raise MigrationError(f"{path} is open in another process: stop the server first")
    _upgrade(data_dir, accounts)
    _check_empty(dsn, _sqlite_tables(server_path))

    summary = MigrationSummary(accounts=len(accounts))
    serverdb = PgServerDatabase(dsn)
    try:
        say("copying the server database")
        expected = _copy_server(server_path, os.path.join(data_dir, "queue"), dsn)
        summary.problems += _verify_server(server_path, dsn, serverdb, expected, summary)
    finally:
        serverdb.close()
    for name, directory in accounts.items():
        say(f"copying account {name}")
        digests = _copy_account(name, directory, dsn)
        summary.problems += _verify_account(name, directory, dsn, digests, summary)
    return summary


def in_use(path: str) -> bool:
    """Whether another process has the SQLite database open (a running server keeps its databases open):
    the lock every connection to a WAL database holds on its -shm file, or a write in progress."""
    if not os.path.exists(path):
        return False
    try:
        fd = os.open(path + "-shm", os.O_RDWR)
    except FileNotFoundError:
        pass  # the last connection closed it (or none ever read): no other process has it open
    else:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, SHM_DMS_OFFSET)
        except OSError:
            return True
        finally:
            os.close(fd)  # and with it the lock
    conn = sqlite3.connect(path, timeout=0)
    try:
        conn.execute("begin immediate")
        conn.execute("rollback")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        conn.close()


def _account_directories(data_dir: str) -> dict[str, str]:
    top = os.path.join(data_dir, "accounts")
    if not os.path.isdir(top):
        return {}
    # Names starting with a dot are deletions in progress (sqlite.REMOVED_PREFIX), no accounts.
    return {name: os.path.join(top, name) for name in sorted(os.listdir(top))
            if not name.startswith(".") and os.path.exists(os.path.join(top, name, "index.db"))}


def _upgrade(data_dir: str, accounts: dict[str, str]) -> None:
    """Open every SQLite database once with its store, which applies the migrations it has not had (the
    tables and columns of this version), so the copy has all of them filled as the stores fill them."""
    ServerDatabase(data_dir).close()
    for name, directory in accounts.items():
        SQLiteAccount(name, directory).close()


def _open_sqlite(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    return conn


def _sqlite_tables(path: str) -> list[str]:
    """The tables whose rows are copied: not SQLite's own, not the full-text ones, and not the record of
    migrations, which each side keeps of its own (_same_version compares them)."""
    conn = _open_sqlite(path)
    try:
        return [r[0] for r in conn.execute("select name from sqlite_master where type = 'table' "
                                           "and name not like 'sqlite_%' and name not like ? and name != ? "
                                           "order by name", (FULLTEXT + "%", migrations.TABLE))]
    finally:
        conn.close()


def _same_version(src: sqlite3.Connection, dst: Connection, what: str) -> None:
    """Refuse to copy between databases at different schema versions (both were just opened by this
    program, which brought them to its own: a difference means another version is at work)."""
    have, want = migrations.version(dst), migrations.version(src)
    if have != want:
        raise MigrationError(f"{what}: schema version {have} on PostgreSQL, {want} in SQLite; "
                             "both must be this program's")


def _connect(dsn: str, schema: str | None = None) -> Connection:
    try:
        return connect(dsn, schema)
    except psycopg.Error as e:
        message = one_line(e)
        secret = password(dsn)
        if secret:
            message = message.replace(secret, "***")
        raise MigrationError(f"cannot connect to PostgreSQL ({redacted(dsn)}): {message}") from None


def password(dsn: str) -> str:
    try:
        return str(psycopg.conninfo.conninfo_to_dict(dsn).get("password") or "")
    except psycopg.Error:
        return ""


def _check_empty(dsn: str, tables: list[str]) -> None:
    """Refuse a database that has rows in any of the server's tables, or an account's schema."""
    try:
        psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.Error:
        raise MigrationError("the DSN is not a valid PostgreSQL connection string") from None
    conn = _connect(dsn)
    try:
        found = conn.execute("select nspname from pg_namespace where nspname like 'account\\_%' limit 1").fetchone()
        if found:
            raise MigrationError(f"the PostgreSQL database is not empty: it has account schema {found[0]}")
        for table in tables:
            if conn.execute("select to_regclass(?)", (table,)).fetchone()[0] is None:
                continue
            if conn.execute(f"select exists (select 1 from {quoted(table)})").fetchone()[0]:
                raise MigrationError(f"the PostgreSQL database is not empty: table {table} has rows")
    finally:
        conn.close()


# Copying.


def _pg_tables(conn: Connection) -> list[str]:
    """The tables of the connection's schema, each after the tables it references (foreign keys)."""
    names = [r[0] for r in conn.execute("select table_name from information_schema.tables "
                                        "where table_schema = current_schema() and table_type = 'BASE TABLE' "
                                        "order by table_name").fetchall()]
    references = conn.execute("""
        select c.conrelid::regclass::text, c.confrelid::regclass::text from pg_constraint c
        where c.contype = 'f' and c.connamespace = current_schema()::regnamespace""").fetchall()
    ordered: list[str] = []

    def place(name: str, seen: tuple[str, ...] = ()) -> None:
        if name in ordered or name in seen:
            return
        for child, parent in references:
            if child == name and parent != name:
                place(parent, seen + (name,))
        ordered.append(name)

    for name in names:
        place(name)
    return [n for n in ordered if n in names]


def _copy_table(src: sqlite3.Connection, dst: Connection, table: str,
                change: Callable[[dict], None] | None = None) -> None:
    """Every row of table, with the columns both sides have; change may alter each row (a dict) first."""
    target = {r[0] for r in dst.execute("select column_name from information_schema.columns "
                                        "where table_schema = current_schema() and table_name = ?",
                                        (table,)).fetchall()}
    columns = [r[1] for r in src.execute(f"pragma table_info({quoted(table)})") if r[1] in target]
    names = ", ".join(quoted(c) for c in columns)
    insert = f"insert into {quoted(table)} ({names}) values ({', '.join('?' * len(columns))})"
    cursor = src.execute(f"select {names} from {quoted(table)}")
    while rows := cursor.fetchmany(BATCH):
        values = []
        for row in rows:
            record = dict(zip(columns, row))
            if change is not None:
                change(record)
            values.append([record[c] for c in columns])
        dst.executemany(insert, values)


def _set_sequences(src: sqlite3.Connection, dst: Connection) -> None:
    """Each identity column's next value past the highest copied id and past what SQLite's AUTOINCREMENT gave
    out already (ids of rows since removed are not given again either)."""
    given: dict[str, int] = {}
    if src.execute("select 1 from sqlite_master where name = 'sqlite_sequence'").fetchone():
        given = {r[0]: r[1] for r in src.execute("select name, seq from sqlite_sequence")}
    for table, column in dst.execute("select table_name, column_name from information_schema.columns "
                                     "where table_schema = current_schema() and is_identity = 'YES'").fetchall():
        (highest,) = dst.execute(f"select coalesce(max({quoted(column)}), 0) from {quoted(table)}").fetchone()
        last = max(highest, given.get(table, 0))
        if last > 0:
            dst.execute("select setval(pg_get_serial_sequence(?, ?), ?)", (quoted(table), column, last))


def _transaction(conn: Connection, fill: Callable[[], None]) -> None:
    conn.execute("begin")
    try:
        fill()
        conn.execute("commit")
    except BaseException:
        conn.execute("rollback")
        raise


def _row_path(path: str) -> str:
    """A queued message's key in queue_messages: a file's path made a row's."""
    return path if in_database(path) else ROW_PREFIX + path


def _copy_server(path: str, queue_dir: str, dsn: str) -> dict[str, str]:
    """Copy the server database; the digests of the queued messages, by their path on PostgreSQL."""
    src = _open_sqlite(path)
    dst = _connect(dsn)
    digests: dict[str, str] = {}

    def rename(row: dict) -> None:
        row["path"] = _row_path(row["path"])

    def fill() -> None:
        _same_version(src, dst, "server database")
        present = set(_sqlite_tables(path))
        tables = [t for t in _pg_tables(dst) if t in present]
        for table in reversed(tables):
            dst.execute(f"delete from {quoted(table)}")  # what the schema function put in
        for table in tables:
            _copy_table(src, dst, table, rename if table in ("queue", "retired") else None)
        for row in src.execute("select path, data from queue_messages"):
            digests[row["path"]] = hashlib.sha256(row["data"]).hexdigest()
        files = [r[0] for r in src.execute("select distinct path from queue")]
        for relpath in files:
            if in_database(relpath):
                continue
            data = read_message_file(queue_dir, relpath)
            dst.execute("insert into queue_messages (path, data) values (?, ?)", (_row_path(relpath), data))
            digests[_row_path(relpath)] = hashlib.sha256(data).hexdigest()
        _set_sequences(src, dst)

    try:
        _transaction(dst, fill)
    finally:
        src.close()
        dst.close()
    return digests


def _copy_account(name: str, directory: str, dsn: str) -> dict[int, str]:
    """Copy an account's index and message files into its schema; the digests of its messages by id."""
    storage = PgStorage(dsn, name, readonly=False)  # makes the schema and its tables
    index = os.path.join(directory, "index.db")
    src = _open_sqlite(index)
    dst = _connect(dsn, storage.schema)
    files = MessageFiles(os.path.join(directory, "msg"))
    digests: dict[int, str] = {}

    def no_path(row: dict) -> None:
        row["path"] = ""  # the bytes are rows of message_contents

    def fill() -> None:
        _same_version(src, dst, f"account {name}")
        present = set(_sqlite_tables(index))
        tables = [t for t in _pg_tables(dst) if t in present]
        for table in reversed(tables):
            dst.execute(f"delete from {quoted(table)}")  # the default mailboxes and counters of a new schema
        for table in tables:
            _copy_table(src, dst, table, no_path if table == "messages" else None)
        for row in src.execute("select id, path from messages order by id"):
            data = files.read(row["id"], row["path"])
            storage.bodies.store_tx(dst, row["id"], data)
            digests[row["id"]] = hashlib.sha256(data).hexdigest()
        columns = summaries.TEXT_COLUMNS
        cursor = src.execute(f"select rowid, {', '.join(columns)} from {FULLTEXT}")
        while rows := cursor.fetchmany(BATCH):
            for row in rows:
                summaries.insert_text_tx(dst, row[0], {"fts_" + c: row[c] for c in columns})
        _set_sequences(src, dst)

    try:
        _transaction(dst, fill)
    finally:
        src.close()
        dst.close()
        storage.db.close()
    return digests


# Verifying.


def _count_problems(src: sqlite3.Connection, dst: Connection, tables: list[str],
                    expected: dict[str, int] | None = None) -> list[str]:
    """Tables whose row count differs between both sides (expected: counts that are not the source's)."""
    problems = []
    for table in tables:
        (want,) = src.execute(f"select count(*) from {quoted(table)}").fetchone()
        want = (expected or {}).get(table, want)
        (have,) = dst.execute(f"select count(*) from {quoted(table)}").fetchone()
        if have != want:
            problems.append(f"table {table} has {have} rows, not {want}")
    return problems


def _verify_server(path: str, dsn: str, serverdb: PgServerDatabase, digests: dict[str, str],
                   summary: MigrationSummary) -> list[str]:
    src = _open_sqlite(path)
    dst = _connect(dsn)
    try:
        present = set(_sqlite_tables(path))
        tables = [t for t in _pg_tables(dst) if t in present]
        problems = [f"server database: {p}" for p in _count_problems(src, dst, tables, {"queue_messages": len(digests)})]
    finally:
        src.close()
        dst.close()
    entries = serverdb.queue.queued(EntryFilter())
    summary.queued = len(entries)
    checked: set[str] = set()
    for entry in entries:
        if entry.path in checked:
            continue
        checked.add(entry.path)
        data = serverdb.queue.message(entry)
        summary.octets += len(data)
        if hashlib.sha256(data).hexdigest() != digests.get(entry.path):
            problems.append(f"queued message of entry {entry.id} differs from its original")
    return problems


def _verify_account(name: str, directory: str, dsn: str, digests: dict[int, str],
                    summary: MigrationSummary) -> list[str]:
    index = os.path.join(directory, "index.db")
    src = _open_sqlite(index)
    dst = _connect(dsn, schema_name(name))
    try:
        present = set(_sqlite_tables(index)) | {FULLTEXT}
        tables = [t for t in _pg_tables(dst) if t in present]
        problems = [f"account {name}: {p}" for p in _count_problems(src, dst, tables)]
    finally:
        src.close()
        dst.close()
    storage = PgStorage(dsn, name, readonly=True)
    try:
        for msg_id, digest in digests.items():
            data = storage.bodies.read(msg_id, "")
            summary.messages += 1
            summary.octets += len(data)
            if hashlib.sha256(data).hexdigest() != digest:
                problems.append(f"account {name}: message {msg_id} differs from its original")
    finally:
        storage.db.close()
    return problems

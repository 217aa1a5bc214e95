"""An account's stored messages as seen from a test, read through the
store's interface (opened read-only beside the server that writes it),
so tests do not depend on how the store keeps them."""

from __future__ import annotations

import os

from moxpy.store import backend, open_store


def _reading(data_dir: str, config=None):
    """The accounts opened to read beside a server: under data_dir, or where config's Storage says."""
    if config is not None and backend.postgresql(config):
        return backend.accounts(config, readonly=True)
    return open_store(data_dir, readonly=True)


def messages(data_dir: str, account: str, config=None) -> list[dict]:
    """Every message of the account, by id, as dicts: the Message fields (meta's among them) and the
    mailbox's name under "mailbox"; empty when the account was never opened."""
    store = _reading(data_dir, config)
    try:
        try:
            acc = store.account(account)
        except FileNotFoundError:
            return []
        found = []
        for box in acc.mailboxes():
            for m in acc.messages(box.id, acc.uids(box.id)):
                row = {name: getattr(m, name) for name in m.__struct_fields__ if name not in ("meta", "parts", "ref")}
                row.update({name: getattr(m.meta, name) for name in m.meta.__struct_fields__})
                found.append(dict(row, mailbox=box.name))
        return sorted(found, key=lambda row: row["id"])
    finally:
        store.close()


def message_file(data_dir: str, account: str, row: dict, config=None) -> bytes:
    """The stored bytes of a message (a dict from messages)."""
    store = _reading(data_dir, config)
    try:
        acc = store.account(account)
        message = acc.message(row["id"])
        assert message is not None, f"message {row['id']} is gone"
        return acc.message_bytes(message)
    finally:
        store.close()


def claimed_recent(data_dir: str, account: str, mailbox: str, config=None) -> int:
    """The highest UID of a mailbox claimed as \\Recent, as saved."""
    store = _reading(data_dir, config)
    try:
        acc = store.account(account)
        return acc.recent_claimed(acc.mailbox(mailbox).id)
    finally:
        store.close()


def problems(data_dir: str, account: str, config=None) -> list[str]:
    """What the store finds wrong with the account's storage."""
    store = _reading(data_dir, config)
    try:
        return store.account(account).check()
    finally:
        store.close()


def message_path(data_dir: str, account: str, row: dict) -> str:
    """The file holding a message's bytes in the SQLite store, for tests that make reading it slow."""
    store = open_store(data_dir, readonly=True)
    try:
        acc = store.account(account)
        message = acc.message(row["id"])
        assert message is not None, f"message {row['id']} is gone"
        return os.path.join(acc.msg_dir, message.ref)
    finally:
        store.close()


def open_test_store(tmp_path, storage: str, **options):
    """The account store a store test runs on (the storage fixture): SQLite's under tmp_path for "",
    else PostgreSQL's in the database of that DSN. options: open_store's (readonly, names)."""
    if not storage:
        return open_store(str(tmp_path), **options)
    from moxpy.store.pg.accounts import PgStore

    return PgStore(storage, **options)


def as_before_versions(conn) -> None:
    """Make a SQLite database (conn, open for writing) look as one made before schema versions were recorded:
    without its record of migrations, so that opening it applies them all from the first."""
    conn.execute("drop table if exists schema_migrations")

"""Fetch rules in the server database (tables fetch_rules and fetch_seen, see serverdb.py and
store/fetchrules.py)."""

from __future__ import annotations

import dataclasses
import sqlite3

from ..db import Database
from ..fetchrules import IDENTITY, FetchOutcome, FetchRuleNotFound, FetchRuleRecord, FetchSettings

_SETTINGS = [f.name for f in dataclasses.fields(FetchSettings)]
_BOOLS = {"tls_skip_verify", "delete_after_fetch"}


def schema(conn: sqlite3.Connection) -> None:
    # AUTOINCREMENT: the ID of a deleted rule never names another one.
    conn.execute("""
        create table if not exists fetch_rules (
            id integer primary key autoincrement,
            account text not null,
            protocol text not null,
            host text not null,
            port integer not null,
            tls text not null,
            tls_skip_verify integer not null default 0,
            username text not null,
            password blob not null,
            mailbox text not null default '',
            delete_after_fetch integer not null default 0,
            interval integer not null,
            created real not null,
            epoch integer not null default 0,
            status text not null default 'notRunYet',
            last_run real not null default 0,
            last_error text not null default '',
            last_fetched integer not null default 0,
            fetched integer not null default 0,
            skipped integer not null default 0,
            uidvalidity integer not null default 0,
            next_run real not null default 0
        )""")
    conn.execute("create index if not exists fetch_rules_account on fetch_rules (account)")
    conn.execute("create index if not exists fetch_rules_next_run on fetch_rules (next_run)")
    # One row per remote message a rule fetched; gone with the rule.
    conn.execute("""
        create table if not exists fetch_seen (
            rule_id integer not null references fetch_rules (id) on delete cascade,
            key text not null,
            digest blob not null,
            primary key (rule_id, key)
        ) without rowid""")


def _record(row: sqlite3.Row) -> FetchRuleRecord:
    values = {k: row[k] for k in row.keys()}
    for name in _BOOLS:
        values[name] = bool(values[name])
    values["password"] = bytes(values["password"])
    return FetchRuleRecord(**values)


def _settings_values(settings: FetchSettings) -> list:
    return [int(v) if isinstance(v, bool) else v for v in (getattr(settings, n) for n in _SETTINGS)]


class SqliteFetchRuleStore:
    def __init__(self, db: Database):
        self.db = db

    async def add(self, settings: FetchSettings, password: bytes, now: float) -> int:
        columns = _SETTINGS + ["password", "created", "next_run"]

        def write(conn: sqlite3.Connection) -> int:
            cur = conn.execute(
                f"insert into fetch_rules ({', '.join(columns)}) values ({', '.join('?' * len(columns))}) returning id",
                _settings_values(settings) + [password, now, 0])
            return cur.fetchone()[0]

        return await self.db.write(write)

    async def update(self, rule_id: int, settings: FetchSettings, password: bytes | None) -> None:
        def write(conn: sqlite3.Connection) -> None:
            row = conn.execute("select * from fetch_rules where id = ?", (rule_id,)).fetchone()
            if row is None:
                raise FetchRuleNotFound(rule_id)
            assignments = [f"{n} = ?" for n in _SETTINGS] + ["next_run = 0"]
            values = _settings_values(settings)
            if password is not None:
                assignments.append("password = ?")
                values.append(password)
            if any(row[n] != getattr(settings, n) for n in IDENTITY):
                # Another remote mailbox: what was fetched from the old one says nothing about it.
                assignments += ["epoch = epoch + 1", "uidvalidity = 0"]
                conn.execute("delete from fetch_seen where rule_id = ?", (rule_id,))
            conn.execute(f"update fetch_rules set {', '.join(assignments)} where id = ?", values + [rule_id])

        await self.db.write(write)

    async def delete(self, rule_id: int) -> None:
        def write(conn: sqlite3.Connection) -> None:
            if conn.execute("delete from fetch_rules where id = ?", (rule_id,)).rowcount == 0:
                raise FetchRuleNotFound(rule_id)

        await self.db.write(write)

    async def remove_account(self, account: str) -> int:
        def write(conn: sqlite3.Connection) -> int:
            conn.execute("delete from fetch_seen where rule_id in (select id from fetch_rules where account = ?)",
                         (account,))
            return conn.execute("delete from fetch_rules where account = ?", (account,)).rowcount

        return await self.db.write(write)

    def get(self, rule_id: int) -> FetchRuleRecord | None:
        row = self.db.query_one("select * from fetch_rules where id = ?", (rule_id,))
        return _record(row) if row else None

    def list(self, account: str = "") -> list[FetchRuleRecord]:
        if account:
            rows = self.db.query("select * from fetch_rules where account = ? order by id", (account,))
        else:
            rows = self.db.query("select * from fetch_rules order by id")
        return [_record(r) for r in rows]

    def due(self, now: float) -> list[FetchRuleRecord]:
        rows = self.db.query("select * from fetch_rules where next_run <= ? order by next_run, id", (now,))
        return [_record(r) for r in rows]

    def next_due(self) -> float | None:
        row = self.db.query_one("select min(next_run) as next from fetch_rules")
        return row["next"] if row else None

    async def claim(self, rule_id: int, epoch: int, next_run: float) -> bool:
        def write(conn: sqlite3.Connection) -> bool:
            cur = conn.execute("update fetch_rules set next_run = ? where id = ? and epoch = ?",
                               (next_run, rule_id, epoch))
            return cur.rowcount == 1

        return await self.db.write(write)

    def seen(self, rule_id: int) -> dict[str, bytes]:
        # Run in a worker thread for large mailboxes: on a connection of that thread's own.
        rows = self.db.query_apart("select key, digest from fetch_seen where rule_id = ?", (rule_id,))
        return {r["key"]: bytes(r["digest"]) for r in rows}

    async def mark_seen(self, rule_id: int, epoch: int, key: str, digest: bytes) -> bool:
        def write(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "insert into fetch_seen (rule_id, key, digest) "
                "select ?, ?, ? where exists (select 1 from fetch_rules where id = ? and epoch = ?) "
                "on conflict (rule_id, key) do update set digest = excluded.digest",
                (rule_id, key, digest, rule_id, epoch))
            return cur.rowcount == 1

        return await self.db.write(write)

    async def finish(self, rule_id: int, epoch: int, outcome: FetchOutcome, now: float, uidvalidity: int,
                     keep: set[str] | None) -> None:
        def write(conn: sqlite3.Connection) -> None:
            cur = conn.execute(
                "update fetch_rules set status = ?, last_error = ?, last_run = ?, last_fetched = ?, "
                "fetched = fetched + ?, skipped = skipped + ?, uidvalidity = ? where id = ? and epoch = ?",
                (outcome.status, outcome.error, now, outcome.fetched, outcome.fetched, outcome.skipped,
                 uidvalidity, rule_id, epoch))
            if cur.rowcount == 0 or keep is None:
                return
            known = {r[0] for r in conn.execute("select key from fetch_seen where rule_id = ?", (rule_id,))}
            conn.executemany("delete from fetch_seen where rule_id = ? and key = ?",
                             [(rule_id, key) for key in known - keep])

        await self.db.write(write)

"""An account's delivery rules in its index (table rules, see schema.py),
implementing store.rules.RuleStore.

A rule is a row: its name, its position (1, 2, ... without gaps), and the
rule itself as JSON (conditions, action, join, disabled). meta's
rules_version counts the changes, in the transactions that make them.
"""

from __future__ import annotations

import sqlite3

import msgspec

from ..db import Database
from ..rules import Rule, RuleExists, RuleNotFound


def schema(conn: sqlite3.Connection) -> None:
    conn.execute("""
        create table if not exists rules (
            name text primary key,
            position integer not null,
            rule text not null
        )""")
    conn.execute("insert into meta (key, value) values ('rules_version', 0) on conflict do nothing")


def _encode(rule: Rule) -> str:
    return msgspec.json.encode(rule).decode()


def _decode(text: str) -> Rule:
    return msgspec.json.decode(text, type=Rule)


def _names_tx(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("select name from rules order by position")]


def _place_tx(conn: sqlite3.Connection, names: list[str]) -> None:
    """Give the rules the positions of their order in names; count the change."""
    conn.executemany("update rules set position = ? where name = ?",
                     [(i + 1, name) for i, name in enumerate(names)])
    conn.execute("update meta set value = value + 1 where key = 'rules_version'")


def _position(position: int, count: int) -> int:
    """The index in the list of names for a requested position (1-based; 0: after the last)."""
    if position < 0 or position > count:
        raise ValueError(f"Position: between 1 and {count}, or 0")
    return count if position == 0 else position - 1


class SQLiteRules:
    def __init__(self, db: Database):
        self.db = db

    def version(self) -> int:
        row = self.db.query_one("select value from meta where key = 'rules_version'")
        return row[0] if row else 0

    def list(self) -> list[Rule]:
        try:
            found = self.db.query("select rule from rules order by position")
        except sqlite3.OperationalError:
            if self.db.query_one("select 1 from sqlite_master where name = 'rules'") is None:
                return []  # opened read-only, as made before there were rules
            raise
        return [_decode(r[0]) for r in found]

    async def create(self, rule: Rule, position: int = 0) -> int:
        def write(conn: sqlite3.Connection) -> int:
            names = _names_tx(conn)
            if rule.name in names:
                raise RuleExists(rule.name)
            index = _position(position, len(names) + 1) if position else len(names)
            conn.execute("insert into rules (name, position, rule) values (?, 0, ?)", (rule.name, _encode(rule)))
            names.insert(index, rule.name)
            _place_tx(conn, names)
            return index + 1

        return await self.db.write(write)

    async def update(self, name: str, rule: Rule, position: int = 0) -> int:
        def write(conn: sqlite3.Connection) -> int:
            names = _names_tx(conn)
            if name not in names:
                raise RuleNotFound(name)
            if rule.name != name and rule.name in names:
                raise RuleExists(rule.name)
            index = names.index(name)
            names.pop(index)
            if position:
                index = _position(position, len(names) + 1)
            conn.execute("update rules set name = ?, rule = ? where name = ?", (rule.name, _encode(rule), name))
            names.insert(index, rule.name)
            _place_tx(conn, names)
            return index + 1

        return await self.db.write(write)

    async def delete(self, name: str) -> None:
        def write(conn: sqlite3.Connection) -> None:
            if conn.execute("delete from rules where name = ? returning name", (name,)).fetchone() is None:
                raise RuleNotFound(name)
            _place_tx(conn, _names_tx(conn))

        await self.db.write(write)

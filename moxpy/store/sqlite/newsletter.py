"""Mailing lists in the server database (tables newsletter_lists and newsletter_members, see serverdb.py
and store/newsletter.py)."""

from __future__ import annotations

import json
import sqlite3

from .. import dialect
from ..db import Database
from ..newsletter import BOUNCED, CONFIRMED, PENDING, ListNotFound, MailingList, Member

_LIST_FIELDS = ("name", "from_address", "from_name", "confirm_subject", "confirm_text")


def schema(conn: sqlite3.Connection) -> None:
    # AUTOINCREMENT: the id of a deleted list never names another one, so an old token or link to it
    # finds nothing.
    conn.execute("""
        create table if not exists newsletter_lists (
            id integer primary key autoincrement,
            account text not null,
            name text not null,
            from_address text not null,
            from_name text not null default '',
            confirm_subject text not null default '',
            confirm_text text not null default '',
            created real not null
        )""")
    conn.execute("create index if not exists newsletter_lists_account on newsletter_lists (account)")
    # email_key: the address in lower case, what a member is found by.
    conn.execute("""
        create table if not exists newsletter_members (
            list_id integer not null references newsletter_lists (id) on delete cascade,
            email_key text not null,
            email text not null,
            status text not null,
            preferences text not null default '{}',
            created real not null,
            updated real not null,
            confirm_nonce text not null default '',
            confirm_sent real not null default 0,
            primary key (list_id, email_key)
        ) without rowid""")
    conn.execute("create index if not exists newsletter_members_email on newsletter_members (email_key)")
    conn.execute("create index if not exists newsletter_members_status on newsletter_members (list_id, status, email_key)")


def _list(row: sqlite3.Row) -> MailingList:
    return MailingList(id=row["id"], account=row["account"], name=row["name"], from_address=row["from_address"],
                       from_name=row["from_name"], confirm_subject=row["confirm_subject"],
                       confirm_text=row["confirm_text"], created=row["created"])


def _member(row: sqlite3.Row) -> Member:
    return Member(list_id=row["list_id"], email=row["email"], status=row["status"],
                  preferences=json.loads(row["preferences"]), created=row["created"], updated=row["updated"],
                  confirm_nonce=row["confirm_nonce"], confirm_sent=row["confirm_sent"])


def _owned(conn: sqlite3.Connection, account: str, list_id: int) -> None:
    if conn.execute("select 1 from newsletter_lists where id = ? and account = ?", (list_id, account)).fetchone() is None:
        raise ListNotFound(f"no list {list_id}")


def mark_bounced(conn: sqlite3.Connection, account: str, email: str, when: float) -> int:
    """NewsletterStore.mark_bounced inside a transaction of another store (the queue's, recording the
    failure that put the address on the suppression list)."""
    return conn.execute(
        "update newsletter_members set status = ?, updated = ?, confirm_nonce = '' "
        "where email_key = ? and status in (?, ?) "
        "and list_id in (select id from newsletter_lists where account = ?)",
        (BOUNCED, when, email.lower(), PENDING, CONFIRMED, account)).rowcount


def _save(conn: sqlite3.Connection, member: Member) -> None:
    conn.execute(
        dialect.upsert("newsletter_members", ["list_id", "email_key", "email", "status", "preferences", "created",
                                              "updated", "confirm_nonce", "confirm_sent"], ["list_id", "email_key"]),
        (member.list_id, member.email.lower(), member.email, member.status, json.dumps(member.preferences),
         member.created, member.updated, member.confirm_nonce, member.confirm_sent))


class SqliteNewsletterStore:
    def __init__(self, db: Database):
        self.db = db

    async def create_list(self, record: MailingList) -> int:
        def write(conn: sqlite3.Connection) -> int:
            cur = conn.execute(
                f"insert into newsletter_lists (account, created, {', '.join(_LIST_FIELDS)}) values (?, ?, ?, ?, ?, ?, ?) "
                "returning id", (record.account, record.created, *(getattr(record, f) for f in _LIST_FIELDS)))
            return cur.fetchone()[0]

        return await self.db.write(write)

    def get_list(self, account: str, list_id: int) -> MailingList | None:
        row = self.db.query_one("select * from newsletter_lists where id = ? and account = ?", (list_id, account))
        return _list(row) if row else None

    def lists(self, account: str) -> list[MailingList]:
        return [_list(r) for r in self.db.query("select * from newsletter_lists where account = ? order by id",
                                                (account,))]

    def list_by_id(self, list_id: int) -> MailingList | None:
        row = self.db.query_one("select * from newsletter_lists where id = ?", (list_id,))
        return _list(row) if row else None

    async def update_list(self, record: MailingList) -> None:
        def write(conn: sqlite3.Connection) -> None:
            cur = conn.execute(
                f"update newsletter_lists set {', '.join(f + ' = ?' for f in _LIST_FIELDS)} where id = ? and account = ?",
                (*(getattr(record, f) for f in _LIST_FIELDS), record.id, record.account))
            if cur.rowcount == 0:
                raise ListNotFound(f"no list {record.id}")

        await self.db.write(write)

    async def delete_list(self, account: str, list_id: int) -> None:
        def write(conn: sqlite3.Connection) -> None:
            _owned(conn, account, list_id)
            conn.execute("delete from newsletter_members where list_id = ?", (list_id,))
            conn.execute("delete from newsletter_lists where id = ?", (list_id,))

        await self.db.write(write)

    def member(self, account: str, list_id: int, email: str) -> Member | None:
        row = self.db.query_one(
            "select m.* from newsletter_members m join newsletter_lists l on l.id = m.list_id "
            "where m.list_id = ? and l.account = ? and m.email_key = ?", (list_id, account, email.lower()))
        return _member(row) if row else None

    def members(self, account: str, list_id: int, status: str = "", offset: int = 0,
                limit: int = 100) -> tuple[list[Member], int]:
        where = "m.list_id = ? and l.account = ?" + (" and m.status = ?" if status else "")
        args = (list_id, account, status) if status else (list_id, account)
        frm = "from newsletter_members m join newsletter_lists l on l.id = m.list_id"
        total = self.db.query_one(f"select count(*) {frm} where {where}", args)[0]
        rows = self.db.query(f"select m.* {frm} where {where} order by m.created, m.email_key limit ? offset ?",
                             (*args, limit, offset))
        return [_member(r) for r in rows], total

    def confirmed_after(self, list_id: int, after: str = "", limit: int = 1000) -> list[Member]:
        rows = self.db.query("select * from newsletter_members where list_id = ? and status = ? and email_key > ? "
                             "order by email_key limit ?", (list_id, CONFIRMED, after.lower(), limit))
        return [_member(r) for r in rows]

    async def save_member(self, account: str, member: Member) -> None:
        def write(conn: sqlite3.Connection) -> None:
            _owned(conn, account, member.list_id)
            _save(conn, member)

        await self.db.write(write)

    async def confirm_member(self, account: str, list_id: int, email: str, nonce: str, when: float) -> bool:
        def write(conn: sqlite3.Connection) -> bool:
            return conn.execute(
                "update newsletter_members set status = ?, updated = ?, confirm_nonce = '' "
                "where list_id = ? and email_key = ? and status = ? and confirm_nonce = ? and confirm_nonce != '' "
                "and list_id in (select id from newsletter_lists where account = ?)",
                (CONFIRMED, when, list_id, email.lower(), PENDING, nonce, account)).rowcount == 1

        return await self.db.write(write)

    async def set_status(self, account: str, list_id: int, email: str, status: str, when: float,
                         only_from: tuple[str, ...]) -> bool:
        def write(conn: sqlite3.Connection) -> bool:
            marks = ", ".join("?" for _ in only_from)
            return conn.execute(
                "update newsletter_members set status = ?, updated = ?, confirm_nonce = '' "
                f"where list_id = ? and email_key = ? and status in ({marks}) "
                "and list_id in (select id from newsletter_lists where account = ?)",
                (status, when, list_id, email.lower(), *only_from, account)).rowcount == 1

        return await self.db.write(write) if only_from else False

    async def set_preferences(self, account: str, list_id: int, email: str, preferences: dict[str, str],
                              when: float) -> bool:
        def write(conn: sqlite3.Connection) -> bool:
            return conn.execute(
                "update newsletter_members set preferences = ?, updated = ? where list_id = ? and email_key = ? "
                "and list_id in (select id from newsletter_lists where account = ?)",
                (json.dumps(preferences), when, list_id, email.lower(), account)).rowcount == 1

        return await self.db.write(write)

    async def save_member_if(self, account: str, member: Member, expected: tuple[str, str] | None) -> bool:
        def write(conn: sqlite3.Connection) -> bool:
            _owned(conn, account, member.list_id)
            row = conn.execute("select status, confirm_nonce from newsletter_members where list_id = ? and "
                               "email_key = ?", (member.list_id, member.email.lower())).fetchone()
            if (tuple(row) if row else None) != (tuple(expected) if expected else None):
                return False
            _save(conn, member)
            return True

        return await self.db.write(write)

    async def mark_bounced(self, account: str, email: str, when: float) -> int:
        return await self.db.write(lambda conn: mark_bounced(conn, account, email, when))

    async def remove_account(self, account: str) -> int:
        def write(conn: sqlite3.Connection) -> int:
            conn.execute("delete from newsletter_members where list_id in "
                         "(select id from newsletter_lists where account = ?)", (account,))
            return conn.execute("delete from newsletter_lists where account = ?", (account,)).rowcount

        return await self.db.write(write)

"""Send jobs in the server database (tables sendjobs and sendjob_recipients, see serverdb.py and
store/sendjobs.py). They share mox.db with the queue, so a recipient row is written in the commit that
queues its message (SqliteSendJobTransaction, reached as the queue transaction's sendjobs)."""

from __future__ import annotations

import sqlite3

from .. import dialect
from ..db import Database
from ..newsletter import BOUNCED, CONFIRMED, UNSUBSCRIBED, Member
from ..sendjobs import (CANCELED, EVENT_STATES, FINISHED, IN_QUEUE, QUEUED, SCHEDULED, SENDING, STATES, JobNotFound,
                        JobStopped, NotConfirmed, SendJob, AlreadyRecorded)
from .newsletter import _member, mark_bounced

_FIELDS = ("account", "list_id", "name", "subject", "body_html", "body_text", "scheduled_at", "status", "created",
           "started_at", "finished_at", "cursor")


def schema(conn: sqlite3.Connection) -> None:
    # AUTOINCREMENT: a job id is never reused, so an id a tenant kept never names a later job.
    conn.execute("""
        create table if not exists sendjobs (
            id integer primary key autoincrement,
            account text not null,
            list_id integer not null,
            name text not null default '',
            subject text not null,
            body_html text not null default '',
            body_text text not null default '',
            scheduled_at real not null,
            status text not null,
            created real not null,
            started_at real not null default 0,
            finished_at real not null default 0,
            cursor text not null default ''
        )""")
    conn.execute("create index if not exists sendjobs_account on sendjobs (account)")
    conn.execute("create index if not exists sendjobs_status on sendjobs (status, scheduled_at)")
    # email_key: the member's address in lower case, the list's member order.
    conn.execute("""
        create table if not exists sendjob_recipients (
            job_id integer not null references sendjobs (id) on delete cascade,
            email_key text not null,
            email text not null,
            state text not null,
            queue_id integer not null default 0,
            primary key (job_id, email_key)
        ) without rowid""")
    conn.execute("create index if not exists sendjob_recipients_queue on sendjob_recipients (queue_id) "
                 "where queue_id != 0")
    conn.execute("create index if not exists sendjob_recipients_state on sendjob_recipients (job_id, state)")


def _job(row: sqlite3.Row) -> SendJob:
    return SendJob(id=row["id"], **{f: row[f] for f in _FIELDS})


def _status(conn: sqlite3.Connection, job_id: int) -> str:
    row = conn.execute("select status from sendjobs where id = ?", (job_id,)).fetchone()
    return row[0] if row else ""


def _record(conn: sqlite3.Connection, job_id: int, email: str, state: str, queue_id: int) -> None:
    if _status(conn, job_id) != SENDING:
        raise JobStopped(f"job {job_id} is not sending")
    # Not an error caught: after one, a PostgreSQL transaction takes no more statements.
    cursor = conn.execute("insert into sendjob_recipients (job_id, email_key, email, state, queue_id) "
                          "values (?, ?, ?, ?, ?) on conflict do nothing",
                          (job_id, email.lower(), email, state, queue_id))
    if cursor.rowcount == 0:
        raise AlreadyRecorded(email)


class SqliteSendJobTransaction:
    def __init__(self, conn: sqlite3.Connection):
        self._conn = conn

    def queued(self, job_id: int, email: str, queue_id: int) -> None:
        row = self._conn.execute(
            "select m.status from newsletter_members m join sendjobs j on j.list_id = m.list_id "
            "where j.id = ? and m.email_key = ?", (job_id, email.lower())).fetchone()
        if row is None or row[0] != CONFIRMED:
            raise NotConfirmed(row[0] if row else "")
        _record(self._conn, job_id, email, QUEUED, queue_id)

    def outcome(self, queue_id: int, event: str) -> None:
        state = EVENT_STATES.get(event)
        if state is not None and queue_id:
            self._conn.execute("update sendjob_recipients set state = ? where queue_id = ?", (state, queue_id))

    def in_queue(self, job_id: int) -> list[int]:
        return [r[0] for r in self._conn.execute(
            f"select queue_id from sendjob_recipients where job_id = ? and queue_id != 0 "
            f"and state in ({','.join('?' * len(IN_QUEUE))})", (job_id, *IN_QUEUE))]

    def cancel(self, account: str, job_id: int, now: float) -> SendJob:
        row = self._conn.execute("select * from sendjobs where id = ? and account = ?", (job_id, account)).fetchone()
        if row is None:
            raise JobNotFound(f"no job {job_id}")
        job = _job(row)
        if job.status in (SCHEDULED, SENDING):
            self._conn.execute("update sendjobs set status = ?, finished_at = ? where id = ?",
                               (CANCELED, now, job_id))
        return job

    def mark_bounced(self, account: str, email: str, now: float) -> int:
        return mark_bounced(self._conn, account, email, now)


class SqliteSendJobStore:
    def __init__(self, db: Database):
        self.db = db

    async def create(self, job: SendJob) -> int:
        def write(conn: sqlite3.Connection) -> int:
            return conn.execute(f"insert into sendjobs ({', '.join(_FIELDS)}) values ({', '.join('?' * len(_FIELDS))}) "
                                "returning id", tuple(getattr(job, f) for f in _FIELDS)).fetchone()[0]

        return await self.db.write(write)

    def get(self, account: str, job_id: int) -> SendJob | None:
        row = self.db.query_one("select * from sendjobs where id = ? and account = ?", (job_id, account))
        if row is None:
            return None
        job = _job(row)
        job.counts = dict.fromkeys(STATES, 0)
        for r in self.db.query("select state, count(*) as n from sendjob_recipients where job_id = ? group by state",
                               (job_id,)):
            job.counts[r["state"]] = r["n"]
        return job

    def active(self, now: float) -> list[SendJob]:
        rows = self.db.query("select * from sendjobs where status = ? or (status = ? and scheduled_at <= ?) "
                             "order by scheduled_at, id", (SENDING, SCHEDULED, now))
        return [_job(r) for r in rows]

    def next_scheduled(self) -> float | None:
        row = self.db.query_one("select min(scheduled_at) from sendjobs where status = ?", (SCHEDULED,))
        return row[0] if row else None

    async def start(self, job_id: int, now: float) -> bool:
        return await self.db.write(lambda conn: conn.execute(
            "update sendjobs set status = ?, started_at = ? where id = ? and status = ?",
            (SENDING, now, job_id, SCHEDULED)).rowcount == 1)

    async def skip(self, job_id: int, email: str, state: str) -> None:
        await self.db.write(lambda conn: _record(conn, job_id, email, state, 0))

    def members_after(self, list_id: int, after: str, since: float, limit: int) -> list[Member]:
        rows = self.db.query(
            "select * from newsletter_members where list_id = ? and email_key > ? "
            "and (status = ? or (status in (?, ?) and updated >= ?)) order by email_key limit ?",
            (list_id, after.lower(), CONFIRMED, UNSUBSCRIBED, BOUNCED, since, limit))
        return [_member(r) for r in rows]

    def recorded(self, job_id: int, emails: list[str]) -> set[str]:
        keys = [e.lower() for e in emails]
        rows = self.db.query(f"select email_key from sendjob_recipients where job_id = ? "
                             f"and email_key in ({','.join('?' * len(keys))})", (job_id, *keys)) if keys else []
        return {r[0] for r in rows}

    async def advance(self, job_id: int, cursor: str) -> None:
        await self.db.write(lambda conn: conn.execute(
            f"update sendjobs set cursor = {dialect.greatest(conn)}(cursor, ?) where id = ?", (cursor.lower(), job_id)))

    async def finish(self, job_id: int, now: float) -> bool:
        return await self.db.write(lambda conn: conn.execute(
            "update sendjobs set status = ?, finished_at = ? where id = ? and status = ?",
            (FINISHED, now, job_id, SENDING)).rowcount == 1)

    async def remove_account(self, account: str) -> int:
        def write(conn: sqlite3.Connection) -> int:
            conn.execute("delete from sendjob_recipients where job_id in (select id from sendjobs where account = ?)",
                         (account,))
            return conn.execute("delete from sendjobs where account = ?", (account,)).rowcount

        return await self.db.write(write)

    def has_jobs(self, account: str) -> bool:
        return self.db.query_one("select 1 from sendjobs where account = ? limit 1", (account,)) is not None

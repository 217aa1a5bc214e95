"""The group-commit writer: a job that fails leaves nothing behind and its
error goes to its caller, alone or in a batch with others that commit;
and the writers of two processes on one database take turns."""

import asyncio
import multiprocessing
import sqlite3

import pytest

from moxpy.store.db import Database


def schema(conn: sqlite3.Connection) -> None:
    conn.execute("create table if not exists t (x integer primary key)")


def insert_then_fail(conn: sqlite3.Connection) -> None:
    conn.execute("insert into t values (1)")
    raise ValueError("the job's own error")


def values(db: Database) -> list[int]:
    return [r[0] for r in db.query("select x from t order by x")]


def test_a_failing_job_alone_is_rolled_back(tmp_path):
    db = Database(str(tmp_path / "a.db"), schema)
    try:
        with pytest.raises(ValueError, match="own error"):
            db.write_sync(insert_then_fail)
        assert values(db) == []
        db.write_sync(lambda conn: conn.execute("insert into t values (2)"))
        assert values(db) == [2]
    finally:
        db.close()


def test_a_failing_job_in_a_batch_takes_only_its_own_writes(tmp_path):
    db = Database(str(tmp_path / "a.db"), schema)

    async def main():
        jobs = [db.write(lambda conn, i=i: conn.execute("insert into t values (?)", (10 + i,))) for i in range(5)]
        jobs.insert(2, db.write(insert_then_fail))
        return await asyncio.gather(*jobs, return_exceptions=True)

    try:
        results = asyncio.run(main())
        assert isinstance(results[2], ValueError)
        assert values(db) == [10, 11, 12, 13, 14]
    finally:
        db.close()


def _writer(path: str, start: int, count: int) -> None:
    db = Database(path, schema)
    try:
        for i in range(start, start + count):
            db.write_sync(lambda conn, i=i: conn.execute("insert into t values (?)", (i,)))
    finally:
        db.close()


def test_writers_of_two_processes_take_turns(tmp_path):
    path = str(tmp_path / "shared.db")
    context = multiprocessing.get_context("spawn")
    others = [context.Process(target=_writer, args=(path, n * 1000, 200)) for n in range(2)]
    for p in others:
        p.start()
    for p in others:
        p.join(60)
        assert p.exitcode == 0
    db = Database(path, schema)
    try:
        assert values(db) == list(range(200)) + list(range(1000, 1200))
    finally:
        db.close()

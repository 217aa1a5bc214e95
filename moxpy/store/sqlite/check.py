"""Checking that an account's index and its message files agree: every
message row has its file and its MIME tree, no two rows share a file,
and no file is left without a row."""

from __future__ import annotations

import os

from ..db import Database


def count_without_parts(db: Database) -> int:
    """How many messages have no MIME tree (message_parts)."""
    return db.query_one(
        "select count(*) from messages m left join message_parts p on p.message_id = m.id where p.message_id is null"
    )[0]


def problems(db: Database, msg_dir: str) -> list[str]:
    paths = [r[0] for r in db.query("select path from messages")]
    without_parts = count_without_parts(db)
    files = {os.path.relpath(os.path.join(d, f), msg_dir) for d, _, names in os.walk(msg_dir) for f in names}
    found = []
    if len(set(paths)) != len(paths):
        found.append(f"{len(paths) - len(set(paths))} messages share a file with another")
    missing = set(paths) - files
    if missing:
        found.append(f"{len(missing)} messages without their file, e.g. {sorted(missing)[0]}")
    unused = files - set(paths)
    if unused:
        found.append(f"{len(unused)} files of no message, e.g. {sorted(unused)[0]}")
    if without_parts:
        found.append(f"{without_parts} messages without their MIME tree")
    return found

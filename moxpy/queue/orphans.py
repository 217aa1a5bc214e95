"""The orphan sweep: message files of submissions that never committed (a
crash between writing the file and its entries)."""

from __future__ import annotations

import os
import time

from ..store.db import Database
from ..store.files import remove_message_file

MIN_AGE = 60  # seconds: younger files may belong to a submission still committing


def remove_orphan_files(db: Database, directory: str) -> None:
    used = {row["path"] for row in db.query("select distinct path from queue")}
    for bucket in os.listdir(directory):
        bucket_dir = os.path.join(directory, bucket)
        if not os.path.isdir(bucket_dir):
            continue
        for name in os.listdir(bucket_dir):
            relpath = os.path.join(bucket, name)
            if relpath not in used:
                # Re-check against the table: a submission may have committed meanwhile.
                if db.query_one("select 1 from queue where path = ? limit 1", (relpath,)) is None:
                    try:
                        if time.time() - os.stat(os.path.join(bucket_dir, name)).st_mtime > MIN_AGE:
                            remove_message_file(directory, relpath)
                    except FileNotFoundError:
                        pass

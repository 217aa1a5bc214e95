"""Where an account keeps its messages' bytes, the one thing that differs
between its backends: files under msg/ (MessageFiles, here), or rows of
the account's database (pg/contents.py, MessageTable). The account calls
the same methods of either:

prepare(data) before the transaction that adds a message: (its path
column, directories to fsync before the commit); store_tx(conn, id, data)
in that transaction; link(path) and copied_tx(conn, source id, new id)
for a copy, before and after its row is inserted; discard(path) once a
removal is committed, or when the transaction that would have added
the message failed; read, read_cached, and open(id, path, size) for a
read-only binary file of the message, to read it in parts; problems for
the check command.
"""

from __future__ import annotations

import os
from typing import BinaryIO

from ..db import Database
from ..files import (link_message_file, read_message_file, read_message_file_cached, remove_message_file,
                     write_message_file)
from . import check


class MessageFiles:
    """One file per message under msg_dir (store.files), written and fsync'ed before its row is
    committed, removed only after its row's removal is."""

    def __init__(self, msg_dir: str):
        self.msg_dir = msg_dir

    def prepare(self, data: bytes) -> tuple[str, list[str]]:
        relpath, bucket = write_message_file(self.msg_dir, data)
        return relpath, [bucket]

    def store_tx(self, conn, msg_id: int, data: bytes) -> None:
        pass  # written by prepare

    def link(self, path: str) -> tuple[str, list[str]]:
        relpath, bucket = link_message_file(self.msg_dir, path)
        return relpath, [bucket]

    def copied_tx(self, conn, source_id: int, new_id: int) -> None:
        pass  # the link is the copy

    def discard(self, path: str) -> None:
        remove_message_file(self.msg_dir, path)

    def read(self, msg_id: int, path: str) -> bytes:
        return read_message_file(self.msg_dir, path)

    def read_cached(self, msg_id: int, path: str) -> bytes | None:
        return read_message_file_cached(self.msg_dir, path)

    def open(self, msg_id: int, path: str, size: int) -> BinaryIO:
        # The file itself: once open, it stays readable even if the message is removed meanwhile.
        return open(os.path.join(self.msg_dir, path), "rb")

    def problems(self, db: Database) -> list[str]:
        return check.problems(db, self.msg_dir)

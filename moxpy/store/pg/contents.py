"""Message bytes in the account's PostgreSQL schema, for nodes that share
no filesystem: table message_contents, the bytes of each message in
chunks of CHUNK octets (seq 0, 1, ...), so that no value is huge and a
part of a large message is read without the rest (read_range).

The rows are written in the transaction that adds the message, and a
cascading reference removes them with the message's row, in the
transaction that removes it, whichever way it is removed. A copy copies
the rows. The other methods are those of ../sqlite/bodies.py.
"""

from __future__ import annotations

import collections
import threading

from ..sqlite import check

CHUNK = 256 * 1024
# Messages read lately, kept for message_bytes_cached: at most this many octets in all, none larger than a tenth.
CACHE_OCTETS = 8 * 1024 * 1024


def create(conn) -> None:
    conn.execute("""
        create table if not exists message_contents (
            message_id integer not null references messages(id) on delete cascade,
            seq integer not null,
            data blob not null,
            primary key (message_id, seq)
        )""")


class MessageTable:
    msg_dir = ""  # no message files

    def __init__(self, db):
        self.db = db
        self._cache: collections.OrderedDict[int, bytes] = collections.OrderedDict()
        self._cached = 0
        self._lock = threading.Lock()  # reads come from worker threads

    def prepare(self, data: bytes) -> tuple[str, list[str]]:
        return "", []  # nothing before the transaction: the bytes go in with the row

    def store_tx(self, conn, msg_id: int, data: bytes) -> None:
        conn.executemany("insert into message_contents (message_id, seq, data) values (?, ?, ?)",
                         [(msg_id, i // CHUNK, data[i:i + CHUNK]) for i in range(0, len(data), CHUNK)])

    def link(self, path: str) -> tuple[str, list[str]]:
        return "", []

    def copied_tx(self, conn, source_id: int, new_id: int) -> None:
        conn.execute("insert into message_contents (message_id, seq, data) "
                     "select ?, seq, data from message_contents where message_id = ?", (new_id, source_id))

    def discard(self, path: str) -> None:
        pass  # gone with its row, or never committed

    def read(self, msg_id: int, path: str) -> bytes:
        # The message's row joined in: a message without chunks is empty, one without a row was removed.
        found = self.db.query("select c.data from messages m left join message_contents c on c.message_id = m.id "
                              "where m.id = ? order by c.seq", (msg_id,))
        if not found:
            raise FileNotFoundError(f"message {msg_id} was removed")
        data = b"".join(bytes(r[0]) for r in found if r[0] is not None)
        self._keep(msg_id, data)
        return data

    def read_range(self, msg_id: int, offset: int, length: int) -> bytes:
        """length octets from offset (fewer at the end), reading only the chunks that hold them."""
        if length <= 0:
            return b""
        first, last = offset // CHUNK, (offset + length - 1) // CHUNK
        found = self.db.query("select data from message_contents where message_id = ? and seq between ? and ? "
                              "order by seq", (msg_id, first, last))
        data = b"".join(bytes(r[0]) for r in found)
        start = offset - first * CHUNK
        return data[start:start + length]

    def read_cached(self, msg_id: int, path: str) -> bytes | None:
        with self._lock:
            data = self._cache.get(msg_id)
            if data is not None:
                self._cache.move_to_end(msg_id)
            return data

    def _keep(self, msg_id: int, data: bytes) -> None:
        if len(data) > CACHE_OCTETS // 10:
            return
        with self._lock:
            if msg_id in self._cache:
                return
            self._cache[msg_id] = data
            self._cached += len(data)
            while self._cached > CACHE_OCTETS:
                _, dropped = self._cache.popitem(last=False)
                self._cached -= len(dropped)

    def problems(self, db) -> list[str]:
        (wrong,) = db.query_one("""select count(*) from messages m where m.size != coalesce(
            (select sum(length(c.data)) from message_contents c where c.message_id = m.id), 0)""")
        found = [f"{wrong} messages whose stored bytes are not their size"] if wrong else []
        without_parts = check.count_without_parts(db)
        if without_parts:
            found.append(f"{without_parts} messages without their MIME tree")
        return found

"""Message bytes in the account's PostgreSQL schema, for nodes that share
no filesystem: table message_contents, the bytes of each message in
chunks of CHUNK octets (seq 0, 1, ...), so that no value is huge and a
part of a large message is read without the rest (read_range, and
ChunkReader, the file-like object open() returns for reading one in parts).

The rows are written in the transaction that adds the message, and a
cascading reference removes them with the message's row, in the
transaction that removes it, whichever way it is removed. A copy copies
the rows. The other methods are those of ../sqlite/bodies.py.
"""

from __future__ import annotations

import collections
import io
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
        return self._chunks(msg_id, offset, length)[0]

    def _chunks(self, msg_id: int, offset: int, length: int) -> tuple[bytes, int]:
        """read_range's octets and the number of rows one query read for them."""
        if length <= 0:
            return b"", 0
        first, last = offset // CHUNK, (offset + length - 1) // CHUNK
        found = self.db.query("select data from message_contents where message_id = ? and seq between ? and ? "
                              "order by seq", (msg_id, first, last))
        data = b"".join(bytes(r[0]) for r in found)
        start = offset - first * CHUNK
        return data[start:start + length], len(found)

    def open(self, msg_id: int, path: str, size: int) -> ChunkReader:
        """The message as a read-only file that reads the chunks a read needs, one query per read;
        FileNotFoundError when the message was removed."""
        if self.db.query_one("select 1 from messages where id = ?", (msg_id,)) is None:
            raise FileNotFoundError(f"message {msg_id} was removed")
        return ChunkReader(self, msg_id, size)

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


class ChunkReader(io.RawIOBase):
    """A message of message_contents as a binary file: read(n) and readinto select only the chunks
    overlapping the octets asked for, with one query; seek moves without reading. A read that finds
    fewer octets than the message's size promises raises FileNotFoundError: the message was removed
    meanwhile (its rows went with it)."""

    def __init__(self, table: MessageTable, msg_id: int, size: int):
        super().__init__()
        self._table = table
        self._msg_id = msg_id
        self._size = size
        self._position = 0
        self.rows_read = 0  # chunks fetched so far, for those checking that only the needed ones are

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._position = base + offset
        return self._position

    def read(self, size: int = -1) -> bytes:
        if self.closed:
            raise ValueError("read of a closed message")
        wanted = self._size - self._position if size is None or size < 0 else min(size, self._size - self._position)
        if wanted <= 0:
            return b""
        data, rows = self._table._chunks(self._msg_id, self._position, wanted)
        self.rows_read += rows
        if len(data) != wanted:
            raise FileNotFoundError(f"message {self._msg_id} was removed")
        self._position += wanted
        return data

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

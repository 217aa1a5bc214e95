"""Reading a large message in parts through the store (open_message, message_range) on SQLite and on
PostgreSQL: the octets are those of the stored message, and only what is asked is read: on PostgreSQL the
chunks overlapping the range, on SQLite the file from the offset."""

import asyncio

import pytest

from moxpy.store.pg import contents

from ..storehelp import open_test_store

CHUNK = contents.CHUNK


def large_message(size: int) -> bytes:
    header = b"From: a@example.org\r\nSubject: large\r\n\r\n"
    line = b"".join(b"%07d " % i + b"x" * 70 + b"\r\n" for i in range(size // 80 + 1))
    return (header + line)[:size]


@pytest.fixture
def stored(tmp_path, storage):
    """An account holding one message of 3 chunks and a bit, and the message."""
    loop = asyncio.new_event_loop()
    store = open_test_store(tmp_path, storage)
    account = store.account("test")
    data = large_message(3 * CHUNK + 1000)
    message = loop.run_until_complete(account.deliver(data))
    yield account, message, data, loop.run_until_complete
    store.close()
    loop.close()


RANGES = [(0, 100), (CHUNK + 5000, 20000), (CHUNK - 10, 20), (2 * CHUNK - 1, CHUNK + 2), (3 * CHUNK + 900, 5000),
          (3 * CHUNK + 1000, 10), (10 * CHUNK, 10), (5, 0)]


@pytest.mark.parametrize("offset,length", RANGES)
def test_a_range_of_a_large_message_is_the_slice_of_its_bytes(stored, offset, length):
    account, message, data, _ = stored
    assert account.message_range(message, offset, length) == data[offset:offset + length]


def test_an_open_message_reads_in_parts_and_seeks(stored):
    account, message, data, _ = stored
    with account.open_message(message) as f:
        assert f.read(10) == data[:10]
        assert f.tell() == 10
        f.seek(2 * CHUNK)
        parts = []
        while chunk := f.read(CHUNK // 3):
            parts.append(chunk)
        assert b"".join(parts) == data[2 * CHUNK:]
        assert f.read(10) == b""


def test_reading_a_range_on_postgresql_fetches_only_the_chunks_overlapping_it(stored):
    account, message, data, _ = stored
    if not isinstance(account.bodies, contents.MessageTable):
        pytest.skip("chunks are PostgreSQL's")
    with account.open_message(message) as f:
        f.seek(CHUNK + 10)
        assert f.read(100) == data[CHUNK + 10:CHUNK + 110]
        assert f.rows_read == 1
        f.seek(2 * CHUNK - 50)
        assert f.read(100) == data[2 * CHUNK - 50:2 * CHUNK + 50]  # across a chunk boundary
        assert f.rows_read == 3
        f.seek(0)
        assert f.read() == data  # the whole: every chunk, once
        assert f.rows_read == 3 + 4


def test_reading_a_range_on_sqlite_reads_the_file_from_the_offset(stored):
    account, message, data, _ = stored
    if isinstance(account.bodies, contents.MessageTable):
        pytest.skip("files are SQLite's")
    with account.open_message(message) as f:
        f.seek(2 * CHUNK)
        assert f.raw.tell() == 2 * CHUNK  # the file itself was moved, nothing before it read
        assert f.read(100) == data[2 * CHUNK:2 * CHUNK + 100]


def test_a_removed_message_cannot_be_opened_or_read(stored):
    account, message, data, run = stored
    _remove(account, message, run)
    with pytest.raises(OSError):
        account.open_message(message)
    with pytest.raises(OSError):
        account.message_range(message, 0, 10)


def _remove(account, message, run):
    run(account.change_flags([message.id], "add", ["\\Deleted"]))
    run(account.expunge(message.mailbox_id))


def test_an_open_message_on_postgresql_fails_to_read_once_it_is_removed(stored):
    account, message, data, run = stored
    if not isinstance(account.bodies, contents.MessageTable):
        pytest.skip("an open file stays readable on SQLite")
    with account.open_message(message) as f:
        assert f.read(10) == data[:10]
        _remove(account, message, run)
        with pytest.raises(OSError):
            f.read(10)

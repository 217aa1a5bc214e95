"""Message files read on the event loop only when that cannot wait: a
regular file wholly in the page cache. A named pipe (as a slow file stands
in for one in tests/imapserver/test_slow_reads.py) or a file not in memory
is left to a worker thread's read."""

import os
import time

import pytest

from moxpy.store.files import read_message_file, read_message_file_cached, write_message_file

DATA = b"Subject: hi\r\n\r\n" + b"x" * 20000 + b"\r\n"


def test_a_file_in_memory_is_read_at_once(tmp_path):
    relpath, _ = write_message_file(str(tmp_path), DATA)
    assert read_message_file_cached(str(tmp_path), relpath) == DATA == read_message_file(str(tmp_path), relpath)


def test_a_named_pipe_is_not_waited_for(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    started = time.monotonic()
    assert read_message_file_cached(str(tmp_path), "pipe") is None
    assert time.monotonic() - started < 1  # opening it for reading did not wait for a writer


def test_a_missing_file_is_left_to_the_thread_read(tmp_path):
    assert read_message_file_cached(str(tmp_path), "gone") is None
    with pytest.raises(FileNotFoundError):
        read_message_file(str(tmp_path), "gone")


def test_a_file_not_in_memory_is_not_read(tmp_path):
    relpath, _ = write_message_file(str(tmp_path), DATA)
    fd = os.open(tmp_path / relpath, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)  # written and synced: the pages can go
    finally:
        os.close(fd)
    cached = read_message_file_cached(str(tmp_path), relpath)
    if cached == DATA:
        pytest.skip("this file system keeps files in memory (tmpfs): nothing to evict")
    assert cached is None
    assert read_message_file(str(tmp_path), relpath) == DATA

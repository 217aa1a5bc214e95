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


def evicted(path) -> bool:
    """Ask the kernel to drop the file's pages from the page cache (the advice may take a few tries
    while the machine is busy); whether they are gone."""
    for _ in range(50):
        os.sync()
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
        fd = os.open(path, os.O_RDONLY)
        try:
            os.preadv(fd, [bytearray(1)], 0, os.RWF_NOWAIT)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        time.sleep(0.05)
    return False


def test_a_file_not_in_memory_is_not_read(tmp_path):
    relpath, _ = write_message_file(str(tmp_path), DATA)
    # The probe that tells the file was evicted may start the kernel reading it back in, and on a busy
    # machine that can be done before the next look: a few tries.
    for _ in range(10):
        if not evicted(tmp_path / relpath):
            pytest.skip("the file system keeps this file in memory (tmpfs, or the kernel declined)")
        found = read_message_file_cached(str(tmp_path), relpath)
        if found is None:
            break
        assert found == DATA  # back in memory: then whole
    else:
        pytest.fail("a file evicted from memory was read without waiting every time")
    assert read_message_file(str(tmp_path), relpath) == DATA

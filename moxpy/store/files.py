"""Message files: one file per message, holding its exact bytes.

Files are written under a random name in one of 256 bucket directories and
fsync'ed before the caller records them in a database; the bucket directory
is fsync'ed by the database's group commit (see db.Database.write). A crash
between the two leaves an unreferenced file, never a row without its file.
"""

from __future__ import annotations

import os
import secrets
import stat


def write_message_file(root: str, data: bytes) -> tuple[str, str]:
    """Write data durably under root; return (relative path, bucket directory)."""
    name = secrets.token_hex(12)
    bucket = os.path.join(root, name[:2])
    os.makedirs(bucket, exist_ok=True)
    path = os.path.join(bucket, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        os.fdatasync(fd)  # the data and the size; the name is made durable by the directory fsync
    except BaseException:
        os.close(fd)
        os.unlink(path)
        raise
    os.close(fd)
    return os.path.join(name[:2], name), bucket


def read_message_file(root: str, relpath: str) -> bytes:
    with open(os.path.join(root, relpath), "rb") as f:
        return f.read()


def read_message_file_cached(root: str, relpath: str) -> bytes | None:
    """The file's bytes if reading them cannot wait on a disk, else None (read it in a thread then):
    a regular file held whole in the page cache, read with RWF_NOWAIT (Linux preadv2). Anything else,
    a named pipe or a file not in memory, is None; so is an error, which the thread's read reports."""
    if not hasattr(os, "RWF_NOWAIT"):
        return None
    try:
        # O_NONBLOCK: opening a named pipe would otherwise wait for its writer.
        fd = os.open(os.path.join(root, relpath), os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None
        buffer = bytearray(info.st_size)
        if info.st_size and os.preadv(fd, [buffer], 0, os.RWF_NOWAIT) != info.st_size:
            return None  # only part of it is in memory
        return bytes(buffer)
    except OSError:  # EAGAIN: not in memory
        return None
    finally:
        os.close(fd)


def remove_message_file(root: str, relpath: str) -> None:
    try:
        os.unlink(os.path.join(root, relpath))
    except FileNotFoundError:
        pass


def link_message_file(root: str, relpath: str) -> tuple[str, str]:
    """A second name for a message file (a hard link, so a copy costs no bytes); like write_message_file."""
    name = secrets.token_hex(12)
    bucket = os.path.join(root, name[:2])
    os.makedirs(bucket, exist_ok=True)
    target = os.path.join(bucket, name)
    try:
        os.link(os.path.join(root, relpath), target)
    except OSError:
        # Filesystems without hard links get a real copy.
        with open(os.path.join(root, relpath), "rb") as f:
            return write_message_file(root, f.read())
    return os.path.join(name[:2], name), bucket

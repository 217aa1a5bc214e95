"""Secret keys of the server's own, each a file in the data directory
(mode 0600) made on first use: the key that encrypts remote passwords
(fetch/secret.py), the one that signs newsletter links
(newsletter/signing.py). Neither is in mox.db, so a copy of the database
alone is of no use to forge or decrypt with.
"""

from __future__ import annotations

import os
import secrets

SIZE = 32  # bytes


class KeyFileError(Exception):
    """A key file that does not hold a key."""


def load(path: str) -> bytes:
    """The key in path, made first when there is none."""
    try:
        with open(path, "rb") as f:
            key = f.read()
    except FileNotFoundError:
        # Written in full under another name, then linked: a second process making the key at the same
        # moment loses the race and reads the winner's.
        temp = f"{path}.{os.getpid()}.tmp"
        fd = os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        try:
            os.write(fd, secrets.token_bytes(SIZE))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(temp, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(temp)
        with open(path, "rb") as f:
            key = f.read()
    if len(key) != SIZE:
        raise KeyFileError(f"{os.path.basename(path)} does not hold a {SIZE}-byte key")
    return key

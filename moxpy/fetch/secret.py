"""The remote passwords of fetch rules, encrypted at rest.

AES-256-GCM with a key of the server's own: a file in the data directory
(mode 0600), made on first use. A copy of mox.db alone then holds no
usable password. The key and the passwords are never logged, and no
webapi response carries a password.
"""

from __future__ import annotations

import os
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .. import keyfile

KEY_FILE = "fetch-passwords.key"
_NONCE = 12  # bytes; NIST SP 800-38D 8.2.2: random 96-bit nonces
_CONTEXT = b"moxpy fetch rule password"  # associated data: a ciphertext made for something else does not open


class SecretError(Exception):
    """A password could not be decrypted: the key file was replaced or the data damaged."""


class PasswordBox:
    """Encrypts and decrypts remote passwords with the key under a data directory."""

    def __init__(self, data_dir: str):
        self._path = os.path.join(data_dir, KEY_FILE)
        self._aead: AESGCM | None = None

    def _cipher(self) -> AESGCM:
        if self._aead is None:
            self._aead = AESGCM(self._key())
        return self._aead

    def _key(self) -> bytes:
        try:
            return keyfile.load(self._path)
        except keyfile.KeyFileError as e:
            raise SecretError(str(e)) from None

    def seal(self, password: str) -> bytes:
        nonce = secrets.token_bytes(_NONCE)
        return nonce + self._cipher().encrypt(nonce, password.encode("utf-8"), _CONTEXT)

    def open(self, sealed: bytes) -> str:
        try:
            return self._cipher().decrypt(sealed[:_NONCE], sealed[_NONCE:], _CONTEXT).decode("utf-8")
        except (InvalidTag, ValueError) as e:
            raise SecretError("the stored password cannot be decrypted with the server's key; "
                              "set it again with FetchRuleUpdate") from e

"""SCRAM-SHA-256 (RFC 5802, RFC 7677) on scramp: the verifier an account
keeps instead of its password for SCRAM logins, and the server side of one
exchange.

auth.py checks passwords and throttles failures for every listener; this
module is only loaded when a SCRAM login starts or a password is set, so a
server that sees neither does not load scramp (and asn1crypto under it).
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import unicodedata

import scramp
from scramp import ScramException
from scramp.core import Gs2Header

__all__ = ["ScramException", "ScramLogin", "make_verifier", "parse_verifier", "split_gs2_authzid",
           "unknown_user_verifier"]

_scram = scramp.ScramMechanism("SCRAM-SHA-256")
ITERATIONS = 16384  # RFC 7677 4 asks for at least 4096; mox uses more too


def make_verifier(password: str) -> str:
    """What a server keeps for SCRAM-SHA-256 logins (RFC 5802 3, RFC 7677) instead
    of the password: "iterations:salt:storedkey:serverkey", binary parts base64."""
    salt, stored_key, server_key, iterations = _scram.make_auth_info(password, iteration_count=ITERATIONS)
    return ":".join([str(iterations)] + [base64.b64encode(v).decode() for v in (salt, stored_key, server_key)])


_unknown_user: tuple[bytes, bytes, bytes, int] | None = None


def unknown_user_verifier() -> tuple[bytes, bytes, bytes, int]:
    """A verifier of a random password, for a login that names no account (or one without a verifier): the
    exchange goes on and fails at the proof, like a wrong password, so it does not reveal which exist."""
    global _unknown_user
    if _unknown_user is None:
        _unknown_user = parse_verifier(make_verifier(secrets.token_urlsafe(16)))
    return _unknown_user


def parse_verifier(text: str) -> tuple[bytes, bytes, bytes, int] | None:
    """(salt, stored key, server key, iterations), the form scramp's auth_fn returns; None when unset or malformed."""
    try:
        iterations, salt, stored_key, server_key = text.split(":")
        return (base64.b64decode(salt), base64.b64decode(stored_key), base64.b64decode(server_key), int(iterations))
    except (ValueError, binascii.Error):
        return None


# RFC 5802 5.1: in a saslname, "," is sent as "=2C" and "=" as "=3D"; no other "=".
_SASLNAME = re.compile(r"^(?:[^=,]|=2C|=3D)+$")


def split_gs2_authzid(client_first: str) -> tuple[str, str, str]:
    """RFC 5802 7: a client-first message starts with the GS2 header, a
    channel binding flag and an optional "a=" authorization identity, each
    ended by ",". Returns (authzid, the header as sent, the message with the
    authzid left out); ScramException when the header is malformed."""
    flag, comma1, rest = client_first.partition(",")
    field, comma2, bare = rest.partition(",")
    if not (comma1 and comma2):
        raise ScramException("malformed GS2 header")
    if not field:
        return "", f"{flag},,", client_first
    if not field.startswith("a=") or not _SASLNAME.match(field[2:]):
        raise ScramException("malformed authorization identity in GS2 header")
    authzid = field[2:].replace("=2C", ",").replace("=3D", "=")
    return unicodedata.normalize("NFC", authzid), f"{flag},{field},", f"{flag},,{bare}"


class _SentGs2Header(Gs2Header):
    """scramp's GS2 header, rendered as the client sent it: the client-final
    message repeats the header, authzid included, in its channel binding
    attribute (RFC 5802 7, "c="), and is checked against exactly these bytes."""

    def __init__(self, parsed: Gs2Header, sent: str):
        super().__init__(parsed.gs2_char, parsed.cb_name)
        self._sent = sent

    def __str__(self) -> str:
        return self._sent


class ScramLogin:
    """The server side of one SCRAM-SHA-256 exchange (RFC 5802, RFC 7677), on
    scramp, which refuses an authorization identity in the GS2 header. Many
    clients (gsasl, and so neomutt) send their own login there; the caller
    decides from authzid and username whether to go on."""

    def __init__(self, lookup):
        self.username = ""  # the login the client claims, SASLprep'ed
        self.authzid = ""  # who the client wants to act as; empty: itself

        def auth_fn(username: str):
            self.username = username
            return lookup(username)

        self._server = _scram.make_server(auth_fn)

    def server_first(self, client_first: str) -> str:
        authzid, sent_header, without_authzid = split_gs2_authzid(client_first)
        self._server.set_client_first(without_authzid)
        if authzid:
            self.authzid = authzid
            self._server.gs2_header = _SentGs2Header(self._server.gs2_header, sent_header)
        return self._server.get_server_first()

    def server_final(self, client_final: str) -> str:
        """The server-final message; ScramException unless the client proved it knows the password."""
        self._server.set_client_final(client_final)
        return self._server.get_server_final()

"""Logins: password hashes and SCRAM-SHA-256 verifiers, verification off
the event loop, throttling of failures per address and per network, and a
short cache of successful verifications.

Used by every listener that takes a password (webapi, SMTP submission,
IMAP). Passwords are hashed with argon2id through the passlib API of the
maintained libpass fork. A verification costs tens of milliseconds of CPU,
so it runs in a thread, is skipped for addresses (or networks) that failed
too often, and a
success is remembered briefly so a busy API client does not pay it per call.
It reads logins from the config but never writes it (provision/edit.py
stores new hashes), and knows no protocol's framing of the exchange.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import concurrent.futures
import functools
import hashlib
import hmac
import logging
import os
import re
import time
import unicodedata
from collections.abc import Callable

import scramp
from passlib.hash import argon2
from scramp.core import Gs2Header

from . import config as configlib
from . import ratelimit

log = logging.getLogger("moxpy.auth")

# OWASP's argon2id baseline: 19 MiB, 2 iterations, 1 lane.
_hasher = argon2.using(type="ID", memory_cost=19456, rounds=2, parallelism=1)

# Failed logins allowed per address, per /26 (IPv4) or /48 (IPv6), and per /21
# or /32, as in mox; past one, further attempts are refused unchecked. The
# narrowest IPv6 class is a /64: one subscriber usually gets a whole one.
FAILURE_LIMITS = (
    ratelimit.Window(60.0, (10, 30, 90)),
    ratelimit.Window(24 * 3600.0, (50, 150, 450)),
)
CACHE_TTL = 60.0

# Password hashes run in their own two threads: each takes 19 MiB while it
# runs, so a burst of logins costs at most two of those at once, and the
# default executor stays free for file I/O.
_hashing = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


_scram = scramp.ScramMechanism("SCRAM-SHA-256")
SCRAM_ITERATIONS = 16384  # RFC 7677 4 asks for at least 4096; mox uses more too


def scram_verifier(password: str) -> str:
    """What a server keeps for SCRAM-SHA-256 logins (RFC 5802 3, RFC 7677) instead
    of the password: "iterations:salt:storedkey:serverkey", binary parts base64."""
    salt, stored_key, server_key, iterations = _scram.make_auth_info(password, iteration_count=SCRAM_ITERATIONS)
    return ":".join([str(iterations)] + [base64.b64encode(v).decode() for v in (salt, stored_key, server_key)])


def parse_scram_verifier(text: str) -> tuple[bytes, bytes, bytes, int] | None:
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
        raise scramp.ScramException("malformed GS2 header")
    if not field:
        return "", f"{flag},,", client_first
    if not field.startswith("a=") or not _SASLNAME.match(field[2:]):
        raise scramp.ScramException("malformed authorization identity in GS2 header")
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


def verify_password(password: str, password_hash: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password, password_hash)
    except (ValueError, TypeError):
        return False


class Throttled(Exception):
    """Too many failed logins from this address or its network; try again later."""


class Authenticator:
    def __init__(self, config: configlib.Source):
        self.config = config
        self._failures = ratelimit.Limiter(FAILURE_LIMITS)
        self._cache: dict[bytes, float] = {}
        self._pending: dict[bytes, asyncio.Future] = {}
        self._key = os.urandom(32)
        # Called, when set, with (remote address, ok) for each login that changes the throttle here, so the
        # server's other process counts it too (counted()): one throttle covers every listener.
        self.on_counted: Callable[[str, bool], None] | None = None

    def throttled(self, remote_ip: str) -> bool:
        return not self._failures.can_add(remote_ip)

    def scram_verifier(self, address: str) -> tuple[str, tuple[bytes, bytes, bytes, int]] | None:
        """(account, SCRAM-SHA-256 verifier) of a login address, None when there is none."""
        config = self.config.current()
        account_name = configlib.login_account(config, address)
        if account_name is None:
            return None
        verifier = parse_scram_verifier(config.Accounts[account_name].SCRAMSHA256)
        return (account_name, verifier) if verifier else None

    def failed(self, remote_ip: str) -> None:
        """Count a failed login that was verified elsewhere (SCRAM) towards the throttle."""
        self._failures.add(remote_ip)
        if self.on_counted is not None:
            self.on_counted(remote_ip, False)

    def succeeded(self, remote_ip: str) -> None:
        """Forget the address's own failures after a good login, as mox does, so
        a user who mistyped does not stay locked out (its network keeps the rest)."""
        if self._failures.reset(remote_ip) and self.on_counted is not None:
            self.on_counted(remote_ip, True)

    def counted(self, remote_ip: str, ok: bool) -> None:
        """A login the server's other process counted."""
        if ok:
            self._failures.reset(remote_ip)
        else:
            self._failures.add(remote_ip)

    async def _verify(self, password: str, password_hash: str) -> bool:
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        ok = await loop.run_in_executor(_hashing, verify_password, password, password_hash)
        log.debug("password hash checked ok=%s duration=%.1fms", ok, (time.monotonic() - started) * 1000)
        return ok

    async def login(self, address: str, password: str, remote_ip: str) -> str | None:
        """The account name for valid credentials, None for invalid; Throttled when refused unchecked."""
        if self.throttled(remote_ip):
            raise Throttled()
        config = self.config.current()
        account_name = configlib.login_account(config, address)
        password_hash = config.Accounts[account_name].PasswordHash if account_name else ""
        key = hmac.new(self._key, "\0".join((address.lower(), password_hash, password)).encode(), hashlib.sha256).digest()
        now = time.monotonic()
        if account_name and self._cache.get(key, 0) > now:
            self.succeeded(remote_ip)
            return account_name
        if account_name:
            # Concurrent logins with the same credentials (a client opening several
            # connections at once) share one verification.
            pending = self._pending.get(key)
            if pending is None:
                pending = self._pending[key] = asyncio.ensure_future(self._check(key, password, password_hash))
                pending.add_done_callback(lambda _: self._pending.pop(key, None))
            ok = await asyncio.shield(pending)
        else:
            # Spend comparable time for unknown users, so timing does not reveal which addresses exist.
            await self._verify(password, _dummy_hash())
            ok = False
        if not ok:
            self.failed(remote_ip)
            return None
        self.succeeded(remote_ip)
        return account_name

    async def _check(self, key: bytes, password: str, password_hash: str) -> bool:
        """Verify, and cache a success before anyone waiting is told, so no login
        arriving in between starts a second verification."""
        ok = await self._verify(password, password_hash)
        if ok:
            now = time.monotonic()
            if len(self._cache) > 10000:
                self._cache = {k: v for k, v in self._cache.items() if v > now}
            self._cache[key] = now + CACHE_TTL
        return ok


@functools.cache
def _dummy_hash() -> str:
    return hash_password("not a real password")

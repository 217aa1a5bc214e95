"""Logins: password hashes, verification off the event loop, throttling
of failures per address and per network, and a short cache of successful
verifications.

Used by every listener that takes a password (webapi, SMTP submission,
IMAP). Passwords are hashed with argon2id through the passlib API of the
maintained libpass fork. A verification costs tens of milliseconds of CPU,
so it runs in a thread, is skipped for addresses (or networks) that failed
too often, and a
success is remembered briefly so a busy API client does not pay it per call.
It reads logins from the config but never writes it (provision/edit.py
stores new hashes), and knows no protocol's framing of the exchange.
SCRAM-SHA-256, where the client proves it knows the password without
sending it, is scram.py's; the throttle here counts its failures too.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import hashlib
import hmac
import logging
import os
import time
from collections.abc import Callable

from . import config as configlib
from . import ratelimit

log = logging.getLogger("moxpy.auth")

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


@functools.cache
def _hasher():
    """argon2id with OWASP's baseline: 19 MiB, 2 iterations, 1 lane. Made at the
    first password checked or set: a server nobody logs in to never loads passlib."""
    from passlib.hash import argon2

    return argon2.using(type="ID", memory_cost=19456, rounds=2, parallelism=1)


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher().verify(password, password_hash)
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
        from .scram import parse_verifier  # only SCRAM logins ask, and they have loaded scram

        verifier = parse_verifier(config.Accounts[account_name].SCRAMSHA256)
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
            ok = await self._shared_check(key, password, password_hash)
        else:
            # Spend comparable time for unknown users, so timing does not reveal which addresses exist.
            await self._verify(password, _dummy_hash())
            ok = False
        if not ok:
            self.failed(remote_ip)
            return None
        self.succeeded(remote_ip)
        return account_name

    async def check_secret(self, password: str, password_hash: str, remote_ip: str) -> bool:
        """Whether password matches password_hash, for a credential of the server's own (not an account's,
        e.g. the metrics login), with the throttle and cache of logins; Throttled when refused unchecked."""
        if self.throttled(remote_ip):
            raise Throttled()
        key = hmac.new(self._key, "\0".join(("", password_hash, password)).encode(), hashlib.sha256).digest()
        if self._cache.get(key, 0) > time.monotonic():
            ok = True
        else:
            ok = await self._shared_check(key, password, password_hash)
        if ok:
            self.succeeded(remote_ip)
        else:
            self.failed(remote_ip)
        return ok

    async def _shared_check(self, key: bytes, password: str, password_hash: str) -> bool:
        """Concurrent checks of the same credentials (a client opening several connections at once)
        share one verification."""
        pending = self._pending.get(key)
        if pending is None:
            pending = self._pending[key] = asyncio.ensure_future(self._check(key, password, password_hash))
            pending.add_done_callback(lambda _: self._pending.pop(key, None))
        return await asyncio.shield(pending)

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

"""The background task that runs fetch rules, in the server's front process.

One asyncio task looks at the rules, starts those that are due (at most
CONCURRENCY at a time, each in its own task) and sleeps until the next is
due, or until woken: adding or changing a rule wakes it, so the rule runs
within moments. The POP3 and IMAP clients block, so every call of theirs
runs in a thread of its own (slow servers must not take the threads the
store and the webapi use), with a timeout on every network operation. At
shutdown the connections are closed under those threads, and a run ends
without recording an outcome: what it stored is remembered already.

A run: log in, list the mailbox, decide what is new (plan.py), and for each
new message fetch it, deliver it through Inbound (it is stored and
fsync'ed, and the incoming webhook queued, before that returns), remember
it, and only then mark it for removal on the remote when the rule says so.
A crash between storing a message and remembering it fetches that message
again next time: mail is never lost, and rarely doubled.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import imaplib
import logging
import poplib
import secrets
import threading
import time
from dataclasses import dataclass

from .. import config as configlib
from ..inbound import Inbound
from ..message import parse as msgparse
from ..store import DeliveryMeta, storage_full
from ..store.fetchrules import FetchOutcome, FetchRuleRecord, FetchRuleStore
from . import failure as failurelib
from .failure import ERROR, OK, FetchFailure
from .plan import plan
from .remote import Endpoint, RemoteMailbox
from .secret import PasswordBox, SecretError

log = logging.getLogger("moxpy.fetch")

CONCURRENCY = 4  # rules run at the same time
POLL = 30.0  # seconds between looks at the rules when nothing wakes the collector
STOP_TIMEOUT = 10.0  # seconds runs get at shutdown to finish the message they are at


@dataclass
class _Counts:
    fetched: int = 0  # messages delivered
    skipped: int = 0  # messages over the size limit


class _Stopped(Exception):
    """The run ends early: the server stops, or the rule was deleted or now names another mailbox."""


def received_header(host: str, peer_ip: str, hostname: str, protocol: str, rule_id: int) -> bytes:
    """RFC 5321 4.4-style trace field for a fetched message, as fetchmail adds one: where it came from and
    with which protocol."""
    line = (f"Received: from {host} ([{peer_ip}])\r\n\tby {hostname} with {protocol} (fetch rule {rule_id}) "
            f"id {secrets.token_urlsafe(9)};\r\n\t{email.utils.format_datetime(email.utils.localtime())}\r\n")
    return line.encode("utf-8")


def return_path(data: bytes) -> str:
    """The address of the Return-Path header the remote server added (RFC 5321 4.4); "" without one."""
    value = msgparse.parse_headers(data).get("Return-Path")
    if value is None:
        return ""
    return email.utils.parseaddr(str(value))[1]


class Collector:
    def __init__(self, config: configlib.Source, store: FetchRuleStore, box: PasswordBox, inbound: Inbound,
                 hostname: str):
        self.config = config
        self.store = store
        self.box = box
        self.inbound = inbound
        self.hostname = hostname
        self._running: dict[int, asyncio.Task] = {}
        self._event: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._stopping = False
        self._remotes: dict[int, RemoteMailbox] = {}  # the open sessions of runs, by rule
        self._waiting: set[asyncio.Future] = set()  # calls in threads that runs wait for

    def start(self) -> None:
        self._event = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._loop())

    def wake(self) -> None:
        """Look at the rules now (a rule was added or changed)."""
        if self._event is not None:
            self._event.set()

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        for remote in list(self._remotes.values()):
            remote.interrupt()  # a call blocked on the network returns at once
        # Runs waiting on the network end now (nothing is lost: what they stored is remembered); those
        # storing a message finish that first.
        for future in list(self._waiting):
            future.cancel()
        running = list(self._running.values())
        if running:
            _, late = await asyncio.wait(running, timeout=STOP_TIMEOUT)
            for task in late:
                task.cancel()

    async def _loop(self) -> None:
        while not self._stopping:
            self._event.clear()
            delay = POLL
            try:
                delay = self._start_due()
            except Exception:
                log.exception("looking for fetch rules that are due")
            try:
                await asyncio.wait_for(self._event.wait(), delay)
            except TimeoutError:
                pass

    def _start_due(self) -> float:
        """Start the rules that are due; the seconds until the next one is."""
        now = time.time()
        waiting = sorted((r for r in self.store.list() if r.id not in self._running), key=lambda r: r.next_run)
        for rule in waiting:
            if rule.next_run > now or len(self._running) >= CONCURRENCY:
                break
            task = asyncio.get_running_loop().create_task(self._run(rule))
            self._running[rule.id] = task
            task.add_done_callback(lambda _, rule_id=rule.id: self._done(rule_id))
        if len(self._running) >= CONCURRENCY:
            return POLL  # a run that ends wakes the loop
        later = [r.next_run for r in waiting if r.id not in self._running]
        return min(POLL, max(0.0, min(later) - now)) if later else POLL

    def _done(self, rule_id: int) -> None:
        self._running.pop(rule_id, None)
        self.wake()

    async def _thread(self, fn, *args):
        """fn(*args) in a thread of its own. A daemon thread: one still waiting on a server that does not
        answer (until its timeout) does not hold up the server's exit."""
        if self._stopping:
            raise _Stopped()
        loop = asyncio.get_running_loop()
        future = loop.create_future()

        def settle(result, error):
            if not future.done():
                future.set_exception(error) if error is not None else future.set_result(result)

        def run():
            result, error = None, None
            try:
                result = fn(*args)
            except BaseException as e:
                error = e
            try:
                loop.call_soon_threadsafe(settle, result, error)
            except RuntimeError:
                pass  # the loop is closed: nobody waits any more

        threading.Thread(target=run, name="fetch", daemon=True).start()
        self._waiting.add(future)
        try:
            return await future
        finally:
            self._waiting.discard(future)

    async def _run(self, rule: FetchRuleRecord) -> None:
        """One run of a rule, its outcome recorded."""
        if not await self.store.claim(rule.id, rule.epoch, time.time() + rule.interval):
            return  # deleted or changed since it was listed
        counts = _Counts()
        uidvalidity, keep = rule.uidvalidity, None
        password = ""
        try:
            config = self.config.current()
            if rule.account not in config.Accounts:
                raise FetchFailure(ERROR, f"account {rule.account} does not exist")
            try:
                password = self.box.open(rule.password)
            except SecretError as e:
                raise FetchFailure(ERROR, str(e)) from None
            endpoint = Endpoint(rule.host, rule.port, rule.tls, rule.tls_skip_verify, rule.username, password,
                                max_size=config.MaxMessageSize)
            uidvalidity, keep = await self._collect(rule, endpoint, counts)
            outcome = FetchOutcome(OK, "", counts.fetched, counts.skipped)
        except _Stopped:
            return
        except Exception as e:
            if self._stopping:
                return  # the connection was closed under the run
            failed = failurelib.classify(e, rule.host, rule.port)
            if not isinstance(e, (FetchFailure, OSError, EOFError, imaplib.IMAP4.error, poplib.error_proto)):
                log.warning("fetch rule=%d: unexpected %s", rule.id, type(e).__name__, exc_info=e)
            outcome = FetchOutcome(failed.status, failurelib.scrub(failed.message, password), counts.fetched,
                                   counts.skipped)
        log.info("fetch rule=%d account=%s host=%s status=%s fetched=%d skipped=%d%s", rule.id, rule.account,
                 rule.host, outcome.status, outcome.fetched, outcome.skipped,
                 f" error={outcome.error!r}" if outcome.error else "")
        await self.store.finish(rule.id, rule.epoch, outcome, time.time(), uidvalidity, keep)

    async def _collect(self, rule: FetchRuleRecord, endpoint: Endpoint, counts: "_Counts") -> tuple[int, set[str]]:
        """Fetch what is new and deliver it; the UIDVALIDITY and the keys on the remote."""
        remote = self._remotes[rule.id] = await self._thread(_open, rule, endpoint)
        closed = False
        try:
            listing = await self._thread(remote.listing)
            changed = rule.protocol == "imap" and rule.uidvalidity != 0 and rule.uidvalidity != remote.uidvalidity
            if changed:
                log.info("fetch rule=%d: UIDVALIDITY changed from %d to %d; fetching all, delivering only messages "
                         "not fetched before", rule.id, rule.uidvalidity, remote.uidvalidity)
            # A large mailbox makes these take a while: off the loop, in the shared pool (the store's reads
            # there reuse a connection per thread).
            loop = asyncio.get_running_loop()
            self._check_current(rule)
            seen = await loop.run_in_executor(None, self.store.seen, rule.id)
            # Read again after: a rule deleted or changed while its messages were read has none.
            self._check_current(rule)
            todo = await loop.run_in_executor(None, plan, listing, seen, endpoint.max_size, changed,
                                              rule.delete_after_fetch)
            for item in todo.delete:
                await self._thread(remote.delete, item)
            for item in todo.too_large:
                log.info("fetch rule=%d: leaving %s (%d octets) on the server: over MaxMessageSize", rule.id,
                         item.key, item.size)
                await self._remember(rule, item.key, b"")
                counts.skipped += 1
            for item in todo.fetch:
                data = await self._thread(remote.retrieve, item)
                if data is None:
                    continue
                digest = hashlib.sha256(data).digest()
                self._check_current(rule)
                if not (todo.by_content and digest in todo.known_digests):
                    await self._deliver(rule, remote, data)
                    counts.fetched += 1
                await self._remember(rule, item.key, digest)
                if rule.delete_after_fetch:
                    await self._thread(remote.delete, item)
            closed = True
            await self._thread(remote.close)
            return remote.uidvalidity, todo.keep
        finally:
            self._remotes.pop(rule.id, None)
            if self._stopping:
                remote.interrupt()
            elif not closed:
                await self._thread(remote.abort)

    def _check_current(self, rule: FetchRuleRecord) -> None:
        """_Stopped when the rule was deleted, or now names another mailbox, since the run started."""
        current = self.store.get(rule.id)
        if current is None or current.epoch != rule.epoch:
            raise _Stopped()

    async def _remember(self, rule: FetchRuleRecord, key: str, digest: bytes) -> None:
        if not await self.store.mark_seen(rule.id, rule.epoch, key, digest):
            raise _Stopped()

    async def _deliver(self, rule: FetchRuleRecord, remote: RemoteMailbox, data: bytes) -> None:
        stored = received_header(rule.host, remote.peer_ip, self.hostname, remote.with_protocol, rule.id) + data
        meta = DeliveryMeta(mail_from=return_path(data), rcpt_to="", remote_ip=remote.peer_ip)
        try:
            message = await self.inbound.deliver(rule.account, "Inbox", stored, meta)
        except Exception as e:
            if not storage_full(e):
                log.exception("fetch rule=%d: storing a fetched message", rule.id)
            raise FetchFailure(ERROR, f"storing a fetched message: {e}") from None
        log.info("fetched rule=%d account=%s msgid=%d size=%d from=%s", rule.id, rule.account, message.id,
                 message.size, meta.mail_from)


def _open(rule: FetchRuleRecord, endpoint: Endpoint) -> RemoteMailbox:
    # The clients are loaded with the first rule that runs.
    if rule.protocol == "pop3":
        from .pop3 import POP3Mailbox

        return POP3Mailbox(endpoint)
    from .imap import IMAPMailbox

    return IMAPMailbox(endpoint, rule.mailbox, writable=rule.delete_after_fetch)

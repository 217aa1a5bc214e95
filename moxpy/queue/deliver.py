"""Delivery attempts: queue entries and their message in, one result per entry out.

A Deliverer takes entries sharing one message (and, when it batches, one
recipient domain and MAIL FROM) and returns a DeliveryResult for each.
LocalDeliverer is localserve's: it ignores the recipient's domain and
always connects to our own delivery listener, so the message lands in the
local account (or fails as localserve's failure simulation says).
DirectDeliverer (direct.py) looks up the recipient domain's MX hosts;
make_deliverer() picks one as the config says.

After a crash, an entry whose attempt was in progress is in doubt: the
Deliverer's reconcile() says whether it was delivered after all, when it
can know (localserve can: the destination is our own store).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

import aiosmtplib

from .. import config as configlib
from ..message.address import AddressError, parse_address
from ..message.status import from_reply
from ..store import Store
from ..store.queue import Entry

log = logging.getLogger("moxpy.queue")


@dataclass
class DeliveryResult:
    ok: bool
    permanent: bool = False
    code: int = 0
    enhanced_code: str = ""  # RFC 3463 status code, e.g. "5.1.1"
    error: str = ""
    remote_mta: str = ""  # host name of the server that answered, for DSNs


class Deliverer(Protocol):
    # Whether deliver() takes several recipients of one message in one call
    # (one SMTP transaction, RFC 5321 3.3: one DATA for many RCPTs).
    batches: bool
    # Whether each recipient domain is a destination of its own (its MX hosts), so that the queue caps
    # the deliveries in flight to one domain (Queue.DestinationConcurrency); not when all go to one host.
    per_domain: bool

    async def deliver(self, entries: list[Entry], data: bytes) -> list[DeliveryResult]: ...

    async def reconcile(self, entry: Entry) -> bool | None:
        """After a crash during an attempt: True delivered, False not delivered, None unknown."""
        ...


def result_from_response(code: int, message: str, remote_mta: str = "") -> DeliveryResult:
    """Classify an SMTP reply (RFC 5321 4.2.1: 2xx success, 4xx temporary, 5xx permanent)."""
    enhanced = from_reply(message)
    if 200 <= code < 300:
        return DeliveryResult(ok=True, code=code, enhanced_code=enhanced, remote_mta=remote_mta)
    return DeliveryResult(ok=False, permanent=code >= 500, code=code, enhanced_code=enhanced,
                          error=" ".join(f"{code} {message}".split()), remote_mta=remote_mta)


def smtp_address(address: str, smtputf8: bool) -> str:
    """The address as written in MAIL FROM/RCPT TO: IDNA domain unless SMTPUTF8 is used (RFC 6531)."""
    if smtputf8 or address.isascii() or not address:
        return address
    try:
        return parse_address(address).ascii()
    except AddressError:
        return address


class LocalDeliverer:
    """Deliver every entry to our own SMTP delivery listener (localserve).

    Connections are kept open between deliveries (a completed transaction
    leaves the session ready for the next MAIL, RFC 5321 3.3), so a busy
    queue does not pay a connect, greeting and EHLO per message. After an
    error reply the connection is closed rather than reset.
    """

    # One transaction per recipient, so each lands as its own message with
    # its own RCPT TO, as a remote server would store it.
    batches = False
    per_domain = False  # every domain goes to our own listener

    # Idle connections kept for the next delivery: connecting and greeting
    # cost as much as a transaction on loopback. As many as the queue's
    # deliveries in flight by default (Queue.Concurrency), so a busy queue
    # does not close and reopen connections between bursts.
    MAX_IDLE = 32

    def __init__(self, host: str, port: int, local_hostname: str = "localhost", timeout: float = 60,
                 store: Store | None = None, config: configlib.Source | None = None):
        self.host = host
        self.port = port
        self.local_hostname = local_hostname
        self.timeout = timeout
        self.store = store
        self.config = config
        self._idle: list[aiosmtplib.SMTP] = []
        self._generation = 0  # connections made before reconnect() are not kept after their delivery

    async def deliver(self, entries: list[Entry], data: bytes) -> list[DeliveryResult]:
        return [await self._deliver_one(entry, data) for entry in entries]

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for client in idle:
            await _quit(client)

    async def reconnect(self) -> None:
        """Make new connections from now on, the listener having moved to another process of the server
        (secondprocess.py): idle ones are closed now, those in use after their delivery."""
        self._generation += 1
        await self.close()

    async def _connect(self) -> aiosmtplib.SMTP:
        client = aiosmtplib.SMTP(hostname=self.host, port=self.port, local_hostname=self.local_hostname,
                                 timeout=self.timeout, start_tls=False)
        client.generation = self._generation
        await client.connect()
        return client

    async def _deliver_one(self, entry: Entry, data: bytes) -> DeliveryResult:
        mail_from = smtp_address(entry.mail_from, entry.smtputf8)
        rcpt_to = smtp_address(entry.rcpt_to, entry.smtputf8)
        mail_options = ["SMTPUTF8"] if entry.smtputf8 else []
        # RFC 6531 3.2: with SMTPUTF8 the addresses go as UTF-8.
        encoding = "utf-8" if entry.smtputf8 else "ascii"
        while True:
            reused = bool(self._idle)
            try:
                client = self._idle.pop() if reused else await self._connect()
            except (aiosmtplib.SMTPException, OSError) as e:
                return DeliveryResult(ok=False, error=f"connecting to {self.host}:{self.port}: {e}")
            try:
                await client.mail(mail_from, options=mail_options, encoding=encoding)
            except aiosmtplib.SMTPResponseException as e:
                await _quit(client)
                return result_from_response(e.code, e.message, self.local_hostname)
            except (aiosmtplib.SMTPException, OSError) as e:
                client.close()
                if reused:
                    continue  # the idle connection went stale; nothing was sent yet
                return DeliveryResult(ok=False, error=f"smtp with {self.host}:{self.port}: {e}")
            break
        try:
            await client.rcpt(rcpt_to, encoding=encoding)
            response = await client.data(data)
        except aiosmtplib.SMTPResponseException as e:
            await _quit(client)
            return result_from_response(e.code, e.message, self.local_hostname)
        except (aiosmtplib.SMTPException, OSError) as e:
            client.close()
            return DeliveryResult(ok=False, error=f"smtp with {self.host}:{self.port}: {e}")
        if len(self._idle) < self.MAX_IDLE and client.is_connected and client.generation == self._generation:
            self._idle.append(client)
        else:
            await _quit(client)
        return result_from_response(response.code, response.message, self.local_hostname)

    async def reconcile(self, entry: Entry) -> bool | None:
        """Look in our own store for the message this attempt was delivering.

        Our listener answers 250 only after the message is committed, so the
        message is in the store exactly when the attempt got that far. Without
        a Message-ID there is nothing to recognize it by.
        """
        if self.store is None or self.config is None or not entry.message_id:
            return None
        target = configlib.delivery_account(self.config.current(), entry.rcpt_to)
        if target is None:
            return False
        account = self.store.account(target[0])
        since = (entry.last_attempt or entry.created) - 1
        found = account.find_delivered(entry.message_id, entry.rcpt_to, entry.mail_from, since)
        log.info("reconciled interrupted attempt id=%d rcpt=%s delivered=%s", entry.id, entry.rcpt_to, found)
        return found


async def _quit(client: aiosmtplib.SMTP) -> None:
    if client.is_connected:
        try:
            await client.quit()
        except (aiosmtplib.SMTPException, OSError):
            client.close()

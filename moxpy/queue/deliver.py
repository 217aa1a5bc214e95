"""Delivery attempts: one queue entry, one SMTP transaction, one result.

A Deliverer turns an entry and its message bytes into a DeliveryResult.
LocalDeliverer is localserve's: it ignores the recipient's domain and
always connects to our own delivery listener, so the message lands in the
local account (or fails as localserve's failure simulation says).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Protocol

import aiosmtplib

from ..message.address import AddressError, parse_address


@dataclass
class DeliveryResult:
    ok: bool
    permanent: bool = False
    code: int = 0
    enhanced_code: str = ""  # RFC 3463 status code, e.g. "5.1.1"
    error: str = ""


class Deliverer(Protocol):
    async def deliver(self, entry: sqlite3.Row, data: bytes) -> DeliveryResult: ...


def result_from_response(code: int, message: str) -> DeliveryResult:
    """Classify an SMTP reply (RFC 5321 4.2.1: 4xx temporary, 5xx permanent)."""
    enhanced = ""
    first = message.split(" ", 1)[0] if message else ""
    parts = first.split(".")
    if len(parts) == 3 and all(p.isdigit() for p in parts) and parts[0] in ("2", "4", "5"):
        enhanced = first
    if 200 <= code < 300:
        return DeliveryResult(ok=True, code=code, enhanced_code=enhanced)
    return DeliveryResult(ok=False, permanent=code >= 500, code=code, enhanced_code=enhanced,
                          error=f"{code} {message}".strip())


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

    Connections are kept open between deliveries (RSET between
    transactions, RFC 5321 4.1.1.5), so a busy queue does not pay a
    connect, greeting and EHLO per message.
    """

    MAX_IDLE = 8

    def __init__(self, host: str, port: int, local_hostname: str = "localhost", timeout: float = 60):
        self.host = host
        self.port = port
        self.local_hostname = local_hostname
        self.timeout = timeout
        self._idle: list[aiosmtplib.SMTP] = []

    async def _connection(self) -> aiosmtplib.SMTP:
        while self._idle:
            client = self._idle.pop()
            if client.is_connected:
                try:
                    await client.rset()
                    return client
                except (aiosmtplib.SMTPException, OSError):
                    client.close()
        client = aiosmtplib.SMTP(hostname=self.host, port=self.port, local_hostname=self.local_hostname,
                                 timeout=self.timeout, start_tls=False)
        await client.connect()
        return client

    async def deliver(self, entry: sqlite3.Row, data: bytes) -> DeliveryResult:
        try:
            client = await self._connection()
        except (aiosmtplib.SMTPException, OSError) as e:
            return DeliveryResult(ok=False, error=f"connecting to {self.host}:{self.port}: {e}")
        reusable = False
        try:
            mail_options = ["SMTPUTF8"] if entry["smtputf8"] else []
            try:
                errors, _ = await client.sendmail(smtp_address(entry["mail_from"], entry["smtputf8"]),
                                                  [smtp_address(entry["rcpt_to"], entry["smtputf8"])], data,
                                                  mail_options=mail_options)
            except aiosmtplib.SMTPRecipientsRefused as e:
                refused = e.recipients[0]
                reusable = True
                return result_from_response(refused.code, refused.message)
            except aiosmtplib.SMTPResponseException as e:
                reusable = e.code < 500 and e.code != 421
                return result_from_response(e.code, e.message)
            except (aiosmtplib.SMTPException, OSError) as e:
                return DeliveryResult(ok=False, error=f"delivering to {self.host}:{self.port}: {e}")
            reusable = True
            if errors:
                response = next(iter(errors.values()))
                return result_from_response(response.code, response.message)
            return DeliveryResult(ok=True, code=250)
        finally:
            if reusable and client.is_connected and len(self._idle) < self.MAX_IDLE:
                self._idle.append(client)
            else:
                client.close()

    async def close(self) -> None:
        while self._idle:
            client = self._idle.pop()
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()

"""The per-account suppression list: addresses the queue will not deliver to.

Suppressions match on a base address (see message.address.base_address),
so "John.Doe+news@example.com" is suppressed by a failure of
"johndoe@example.com".

Besides manual additions (webapi), the queue adds an address when a
delivery fails permanently with a code that says the address is dead
(immediate()), or after three failed messages in a row to it
(failure_reason()). Both rules are pure; record_failure() applies them in
the transaction that retires the failed entry.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from ..message.address import Address, AddressError, base_address, parse_address
from ..store.queue import QueueStore, QueueTransaction, Suppression


class SuppressionExists(Exception):
    pass


class SuppressionAbsent(Exception):
    pass


# SMTP reply codes and RFC 3463 enhanced codes of a permanent failure that
# put the address on the list at once: the remote says the mailbox or domain
# does not exist or does not take mail, or it refuses us by policy. Trying
# again would only look like spam.
IMMEDIATE_CODES = {521, 550, 551, 553, 556}
IMMEDIATE_ENHANCED = {"5.1.1", "5.1.2", "5.1.3", "5.1.6", "5.2.1", "5.7.1"}
# Failed messages in a row to an address that suppress it.
IN_A_ROW = 3


def immediate(code: int, enhanced: str) -> bool:
    return code in IMMEDIATE_CODES or (code // 100 == 5 and enhanced in IMMEDIATE_ENHANCED)


def failure_reason(code: int, enhanced: str, source: str, previous_events: Sequence[str]) -> str:
    """Why a permanent failure puts its address on the list, "" when it does not.

    previous_events are the events of the most recent earlier retired
    messages to the address, newest first. Failures without an SMTP code
    (connection errors, our own) never suppress.
    """
    if code == 0:
        return ""
    if immediate(code, enhanced):
        return f"delivery failure from {source} with smtp code {code}, enhanced code {enhanced or '-'}"
    earlier = list(previous_events[:IN_A_ROW - 1])
    if len(earlier) == IN_A_ROW - 1 and all(event == "failed" for event in earlier):
        return f"delivery failure from {source}, third failed message in a row"
    return ""


def listed(tx: QueueTransaction, account: str, rcpt_to: str) -> bool:
    """Whether the recipient's base address is on the account's list."""
    try:
        address = parse_address(rcpt_to)
    except AddressError:
        return False
    return tx.suppression(account, base_address(address)) is not None


def record_failure(tx: QueueTransaction, account: str, rcpt_to: str, entry_id: int, code: int, enhanced: str,
                   source: str) -> bool:
    """Process a permanent failure to rcpt_to; return whether it was added to the list now."""
    try:
        address = parse_address(rcpt_to)
    except AddressError:
        return False
    if code == 0 or tx.suppression(account, base_address(address)) is not None:
        return False
    previous = [] if immediate(code, enhanced) else [
        r.event for r in tx.recent_retired(account, str(address), entry_id, IN_A_ROW - 1)]
    reason = failure_reason(code, enhanced, source, previous)
    return bool(reason) and tx.add_suppression(_new(account, address, False, reason))


def _new(account: str, address: Address, manual: bool, reason: str) -> Suppression:
    return Suppression(id=0, created=time.time(), account=account, base_address=base_address(address),
                       original_address=str(address), manual=manual, reason=reason)


class Suppressions:
    """The list as accounts manage it (webapi Suppression* methods)."""

    def __init__(self, store: QueueStore):
        self.store = store

    def list(self, account: str) -> list[Suppression]:
        return self.store.suppressions(account)

    def lookup(self, account: str, address: Address) -> Suppression | None:
        return self.store.suppression(account, base_address(address))

    async def add(self, account: str, address: Address, manual: bool = True, reason: str = "") -> None:
        def insert(tx: QueueTransaction) -> None:
            if not tx.add_suppression(_new(account, address, manual, reason)):
                raise SuppressionExists(base_address(address))

        await self.store.transaction(insert)

    async def remove(self, account: str, address: Address) -> None:
        def delete(tx: QueueTransaction) -> None:
            if not tx.remove_suppression(account, base_address(address)):
                raise SuppressionAbsent(base_address(address))

        await self.store.transaction(delete)

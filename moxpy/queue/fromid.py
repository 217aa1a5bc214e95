"""FromID tracking: a unique MAIL FROM per recipient, and incoming mail about
our outgoing mail matched by it.

When the login is one of the account's FromIDLoginAddresses, each recipient
of a message gets its own MAIL FROM, localpart<separator>ID@domain, with a
fresh random ID (recipients()). A DSN (bounce) about that delivery comes
back to exactly that address, so the ID names the queue entry, retired or
still queued. The DSN becomes an outgoing event with DSN set: failed
(adding the recipient to the suppression list when the code says so),
delayed, delivered, relayed or expanded; anything else that arrives there
(an auto-reply, a DSN we cannot read) is "unrecognized".

recipients(), from_id() and classify() are pure; record() runs in the
transaction that stores the incoming message's outcome.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, replace

from ..message import dsn as dsnlib
from ..store.queue import QueueTransaction
from . import suppression
from .events import Event
from .outcome import Recorder, attempt_result
from .submit import Recipient


def recipients(config, account: str, login: str, mail_from: str, rcpt_tos: list[str],
               own_id_allowed: bool = False) -> list[Recipient]:
    """One queue recipient per address, each with its own MAIL FROM
    (localpart<separator>ID@domain, a fresh random ID) when the login is one
    of the account's FromIDLoginAddresses. With own_id_allowed (SMTP
    submission, as mox), an ID already in mail_from is kept; it then allows
    one recipient only (ValueError)."""
    tracked = login.lower() in {a.lower() for a in config.Accounts[account].FromIDLoginAddresses}
    localpart, _, domain = mail_from.rpartition("@")
    dom = config.Domains.get(domain.lower())
    separator = dom.LocalpartCatchallSeparator if dom else ""
    if not mail_from or not tracked or not separator:
        return [Recipient(address=rcpt, mail_from=mail_from) for rcpt in rcpt_tos]
    base, chosen = localpart, ""
    if own_id_allowed:
        base, _, chosen = localpart.partition(separator)
        if chosen and len(rcpt_tos) > 1:
            raise ValueError("a FromID chosen in MAIL FROM allows a single recipient only")
    result = []
    for rcpt in rcpt_tos:
        from_id = chosen or secrets.token_urlsafe(12)
        result.append(Recipient(address=rcpt, from_id=from_id, mail_from=f"{base}{separator}{from_id}@{domain}"))
    return result


@dataclass
class DeliveryReport:
    """What an incoming message to a FromID address says about the delivery."""

    event: str  # failed, delayed, delivered, relayed, expanded, unrecognized
    dsn: bool = False
    code: int = 0
    enhanced_code: str = ""
    error: str = ""


def from_id(config, rcpt_to: str) -> str:
    """The FromID in a recipient address of ours, "" when there is none."""
    localpart, _, domain = rcpt_to.rpartition("@")
    dom = config.Domains.get(domain.lower())
    separator = dom.LocalpartCatchallSeparator if dom else ""
    if not separator or separator not in localpart:
        return ""
    return localpart.split(separator, 1)[1]


def classify(data: bytes) -> DeliveryReport:
    try:
        report = dsnlib.parse(data)
    except dsnlib.DSNError as e:
        if "not a DSN" in str(e):
            return DeliveryReport("unrecognized", error="incoming message not a dsn")
        return DeliveryReport("unrecognized", dsn=True, error=f"parsing incoming dsn: {e}")
    if len(report.recipients) != 1:
        return DeliveryReport("unrecognized", dsn=True,
                        error=f"incoming dsn has {len(report.recipients)} recipients, expecting 1")
    rcpt = report.recipients[0]
    code, enhanced = dsnlib.smtp_codes(rcpt)
    error = rcpt.diagnostic_code or rcpt.status_comment
    if rcpt.action not in dsnlib.ACTIONS:
        return DeliveryReport("unrecognized", dsn=True, code=code, enhanced_code=enhanced,
                        error=f"unrecognized dsn action {rcpt.action!r}")
    return DeliveryReport(rcpt.action, dsn=True, code=code, enhanced_code=enhanced, error=error)


def record(tx: QueueTransaction, recorder: Recorder, account: str, fid: str, incoming: DeliveryReport) -> Event | None:
    """Record the incoming message on the entry with this FromID and emit its
    event; None when no entry of the account has it (then it is ordinary mail)."""
    entry = tx.by_from_id(account, fid)
    if entry is None:
        return None
    now = time.time()
    suppressing = False
    if incoming.event == "failed" and incoming.code:
        suppressing = suppression.record_failure(tx, account, entry.rcpt_to, entry.id, incoming.code,
                                                 incoming.enhanced_code, "DSN")
    # RFC 3464 2.3.3: these actions mean the message got (at least) that far.
    success = incoming.event in ("delivered", "relayed", "expanded")
    result = attempt_result(now, success, incoming.code, incoming.enhanced_code,
                            incoming.error or "incoming message", end=now)
    tx.save(replace(entry, results=entry.results + [result]))
    event = Event.of(incoming.event, entry, dsn=incoming.dsn, suppressing=suppressing, smtp_code=incoming.code,
                     smtp_enhanced_code=incoming.enhanced_code, error=incoming.error)
    recorder.emit(tx, event)
    return event

"""Forwarding by delivery rules: a copy of an incoming message, queued for
another address.

The copy is sent from the account itself: its MAIL FROM is the account's
first address (its first destination that is not a catchall), so the
receiving server checks SPF against our domain, not the original
sender's, and a bounce comes back to the account as a DSN like one for
its own mail. The message is the one stored, with its original DKIM
signatures untouched, one X-Moxpy-Forwarded-By field in front naming that
address, and our own DKIM signature for the account's domain when it has
keys.

Loops: a message that already has an X-Moxpy-Forwarded-By field naming
the account's address is not forwarded again; every hop also adds a
Received field, and delivery refuses mail with more than 100 of them
(RFC 5321 6.3). Forwards count toward the account's daily sending limits;
past one, the message is still stored, but not forwarded (logged).
"""

from __future__ import annotations

import logging
from email.message import Message as EmailMessage

from . import config as configlib
from .message import dkim as dkimlib
from .message import parse as msgparse
from .queue import NewMessage, Queue, Recipient

log = logging.getLogger("moxpy.delivery")

MARK = "X-Moxpy-Forwarded-By"


def sender(config: configlib.Config, account: str) -> str:
    """The address an account forwards from: its first destination that is not a catchall; "" for none."""
    settings = config.Accounts.get(account)
    for address in settings.Destinations if settings else ():
        if not address.startswith("@"):
            return address
    return ""


def forwarded_by(headers: EmailMessage, address: str) -> bool:
    """Whether a message was forwarded by the account with this address already (our mark is on it)."""
    return any(str(value).strip().lower() == address.lower() for value in headers.get_all(MARK) or [])


class Forwarder:
    def __init__(self, config: configlib.Source, queue: Queue):
        self.config = config
        self.queue = queue

    async def forward(self, account: str, data: bytes, headers: EmailMessage, recipients: list[str]) -> list[int]:
        """Queue a copy of data (with this header section) for the recipients, durably; the queue entry ids,
        empty when nothing was forwarded (a loop, no address to send from, a sending limit: logged).
        Errors of the queue's storage are passed on."""
        config = self.config.current()
        settings = config.Accounts.get(account)
        address = sender(config, account)
        if settings is None or not address:
            log.warning("not forwarding: account %s has no address to send from", account)
            return []
        if forwarded_by(headers, address):
            log.info("not forwarding: forwarded by account %s before, a loop account=%s to=%s", account, account,
                     ",".join(recipients))
            return []
        reached = self.queue.limit_reached(account, recipients, settings.MaxOutgoingMessagesPerDay,
                                           settings.MaxFirstTimeRecipientsPerDay)
        if reached:
            log.warning("not forwarding: daily sending limit reached (%s) account=%s to=%s", reached, account,
                        ",".join(recipients))
            return []
        copy = f"{MARK}: {address}\r\n".encode() + data
        domain = address.rpartition("@")[2]
        try:
            copy = await dkimlib.sign(config, copy, domain)
        except dkimlib.DKIMError as e:
            log.warning("forwarding without our dkim signature: %s", e)
        head = data.split(b"\r\n\r\n", 1)[0]
        smtputf8 = not head.isascii() or not address.isascii() or any(not r.isascii() for r in recipients)
        ids = await self.queue.add(NewMessage(
            account=account, sender=address, recipients=[Recipient(address=r, mail_from=address) for r in recipients],
            data=copy, message_id=msgparse.header_str(headers, "Message-ID"),
            subject=msgparse.header_str(headers, "Subject"), smtputf8=smtputf8))
        log.info("forwarded account=%s from=%s to=%s queuemsgids=%s", account, address, ",".join(recipients),
                 ",".join(map(str, ids)))
        return ids

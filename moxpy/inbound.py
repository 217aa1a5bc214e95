"""Storing a message that arrived for an account: the one path incoming
mail takes, whether it came to the SMTP delivery listener or was collected
from a remote mailbox. The webhooks that follow a delivery (incoming
webhooks, and outgoing events for mail about our own messages) are queued
before this returns, so a caller that answers only afterwards loses
nothing.

The account's delivery rules (rules.py) decide first: the mailbox, the
flags, whether the message is stored at all (discard), and the addresses
that get a copy (forwarding.py). The rules are read from the account's
storage again only when their version there changed, so a change made by
another process (the webapi's) applies to the next delivery, and a
delivery costs one small read when nothing changed.
"""

from __future__ import annotations

import logging
from email.message import EmailMessage
from typing import TYPE_CHECKING

from . import offload
from . import rules as rulelib
from .message import parse as msgparse
from .store import Account, DeliveryMeta, MailboxError, MailboxExists, Message, Store

if TYPE_CHECKING:
    from .forwarding import Forwarder

log = logging.getLogger("moxpy.delivery")


class Inbound:
    def __init__(self, store: Store, hooks=None, forwarder: Forwarder | None = None):
        """hooks: an object with after_delivery(account, mailbox, message, data, meta), or None;
        forwarder: queues the copies forward rules ask for (None: they are logged and not sent)."""
        self.store = store
        self.hooks = hooks
        self.forwarder = forwarder
        # account name -> (the account, its rules' version, its rules)
        self._rules: dict[str, tuple[Account, int, rulelib.RuleSet]] = {}

    def rules(self, account: Account) -> rulelib.RuleSet:
        """The account's rules, read again when they changed since the last delivery."""
        version = account.rules.version()
        cached = self._rules.get(account.name)
        if cached is not None and cached[0] is account and cached[1] == version:
            return cached[2]
        ruleset = rulelib.RuleSet(account.rules.list())
        self._rules[account.name] = (account, version, ruleset)
        return ruleset

    async def deliver(self, account: str, mailbox: str, data: bytes, meta: DeliveryMeta,
                      headers: EmailMessage | None = None) -> Message | None:
        """Store data in the account's mailbox, or where its rules say; the stored message, None when a
        rule discarded it. headers: data's header section when the caller parsed it already."""
        acc = self.store.account(account)
        ruleset = self.rules(acc)
        decision = rulelib.Decision()
        if ruleset:
            if headers is None:
                headers = msgparse.parse_headers(data)
            # Size: the message as stored, what IMAP's RFC822.SIZE reports (as in Sieve, RFC 5228 5.9).
            # Each condition may read the header section once: a large one times many is a thread's work.
            head = data.find(b"\r\n\r\n")
            cost = (len(data) if head < 0 else head) * ruleset.conditions
            decision = await offload.run(cost, ruleset.decide, headers, len(data))
            if decision.matched:
                log.info("delivery rules matched account=%s rules=%s mailbox=%s flags=%s forwards=%s discard=%s",
                         account, ",".join(decision.matched), decision.mailbox or mailbox,
                         ",".join(decision.flags) or "-", ",".join(decision.forwards) or "-", decision.discard)
        message = None
        if decision.discard:
            log.info("discarded by delivery rule account=%s size=%d from=%s rcpt=%s", account, len(data),
                     meta.mail_from, meta.rcpt_to)
        else:
            if decision.mailbox:
                mailbox = await self._rule_mailbox(acc, decision.mailbox, mailbox)
            message = await acc.deliver(data, mailbox, flags=decision.flags, meta=meta, headers=headers)
        if decision.forwards:
            if self.forwarder is None:
                log.warning("not forwarding: forwarding is not set up here account=%s", account)
            else:
                await self.forwarder.forward(account, data, headers, decision.forwards)
        if message is not None and self.hooks is not None:
            await self.hooks.after_delivery(account, mailbox, message, data, meta)
        return message

    async def _rule_mailbox(self, account: Account, name: str, default: str) -> str:
        """The mailbox a storeIn rule names, created when missing (its creation in the change log like any
        other); default when it cannot be made."""
        if account.mailbox(name) is not None:
            return name
        try:
            await account.create_mailbox(name)
            log.info("mailbox created for delivery rule account=%s mailbox=%s", account.name, name)
        except MailboxExists:
            pass  # made meanwhile, by another delivery or an IMAP client
        except MailboxError as e:
            log.warning("delivery rule mailbox %r cannot be made, delivering to %s: %s", name, default, e)
            return default
        return name

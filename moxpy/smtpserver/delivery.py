"""The delivery role: mail from anywhere for addresses we host.

Recipients are resolved to an account at RCPT (550 5.1.1 for unknown
ones; localserve accepts every address). At the end of DATA the message
is checked (DKIM, SPF, DMARC, see checks.py), gets Received and
Authentication-Results header fields in front of the bytes exactly as
sent, and is stored once per account and mailbox; 250 is sent only after
the store has fsync'ed it. A domain whose DMARC policy says reject gets
its failing mail rejected.

This role never relays: mail for other domains is refused (except in
localserve, where every address is ours).
"""

from __future__ import annotations

import email.utils
import logging
import secrets

from aiosmtpd.smtp import SMTP, Envelope, Session

from .. import config as configlib
from ..message import dsn as dsnlib
from ..message import parse as msgparse
from ..message.address import AddressError, ascii_domain, parse_address
from ..resolver import Resolver
from ..smtp import path as smtppath
from ..smtp.codes import Enhanced, Reply, reply
from ..inbound import Inbound
from ..store import DeliveryMeta, Store, storage_full
from . import Handler, checks, localserve, replies

log = logging.getLogger("moxpy.smtpserver")

MAX_RECIPIENTS = 1000  # RFC 5321 4.5.3.1.8 asks for at least 100
MAX_RECEIVED = 100  # RFC 5321 6.3: more Received fields than this is a mail loop


def peer_ip(session: Session) -> str:
    return session.peer[0] if isinstance(session.peer, tuple) else ""


def received_header(session: Session, envelope: Envelope, hostname: str, recipient: str | None,
                    authenticated: bool = False, hide_client: bool = False) -> bytes:
    """RFC 5321 4.4 trace header; 'for' only when there is a single recipient.

    With hide_client (submission) the client's name and IP are left out, so
    a sender's internal network does not travel with its mail.
    """
    # RFC 3848: the "with" protocol names.
    protocol = "UTF8SMTP" if envelope.smtp_utf8 else "ESMTP"
    if session.ssl is not None:
        protocol += "S"
    if authenticated:
        protocol += "A"
    source = hostname if hide_client else f"{session.host_name or 'unknown'} ([{peer_ip(session)}])"
    line = f"Received: from {source}\r\n\tby {hostname} with {protocol} id {secrets.token_urlsafe(9)}"
    if recipient:
        line += f"\r\n\tfor <{recipient}>"
    line += f";\r\n\t{email.utils.format_datetime(email.utils.localtime())}\r\n"
    return line.encode("utf-8")


def bare_line_ending(data: bytes) -> bool:
    """A CR or LF not part of CRLF: RFC 5321 2.3.8 forbids them, and they are
    how SMTP smuggling hides a second message inside one (another server may
    see "\\n.\\n" as the end of DATA where we do not)."""
    return data.count(b"\r") != data.count(b"\r\n") or data.count(b"\n") != data.count(b"\r\n")


def received_count(msg) -> int:
    return len(msg.get_all("Received") or [])


def local_zones(config: configlib.Config) -> tuple[list[str], dict]:
    """localserve's answers for the domains it hosts: the DKIM keys we sign with,
    and an SPF record allowing loopback, so mail the queue delivers back to
    us verifies as it would in production."""
    from ..message import dkim as dkimlib

    records: dict[tuple[str, str], list] = {}
    for name, record in dkimlib.dns_records(config).items():
        records[(name, "TXT")] = [record.encode()]
    zones = []
    for domain in config.Domains:
        zone = ascii_domain(domain)
        zones.append(zone)
        records[(zone, "TXT")] = [b"v=spf1 ip4:127.0.0.0/8 ip6:::1 ~all"]
    return zones, records


class DeliveryHandler(Handler):
    role = "delivery"  # named in session log lines

    def __init__(self, config: configlib.Source, store: Store, hostname: str, resolver: Resolver,
                 inbound: Inbound | None = None):
        """inbound: where messages are stored, with the webhooks that follow (before 250)."""
        self.config = config
        self.store = store
        self.inbound = inbound or Inbound(store)
        self.hostname = hostname
        self.resolver = resolver
        self._local_resolver: tuple[int, Resolver] | None = None

    def _resolver(self, config: configlib.Config) -> Resolver:
        if not config.Localserve:
            return self.resolver
        if self._local_resolver is None or self._local_resolver[0] != id(config):
            self._local_resolver = (id(config), self.resolver.with_local_zones(*local_zones(config)))
        return self._local_resolver[1]

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          mail_options: list[str]) -> str:
        if smtppath.needs_smtputf8(address) and not envelope.smtp_utf8:
            return replies.NEEDS_SMTPUTF8
        if not smtppath.is_null(address):
            try:
                parse_address(address)
            except AddressError as e:
                return reply(Reply.MAILBOX_NAME_NOT_ALLOWED, Enhanced.BAD_SENDER_SYNTAX,
                             f"malformed sender address: {e}")
        if failure := await self.simulated_failure(server, "MAIL", address):
            return failure
        envelope.mail_from = address  # "<>" for the null reverse path: aiosmtpd needs it non-empty
        envelope.mail_options.extend(mail_options)
        return replies.SENDER_OK

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        config = self.config.current()
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return replies.too_many_recipients(MAX_RECIPIENTS)
        # Bounces go to one recipient; a null sender with many is not a bounce.
        if smtppath.is_null(envelope.mail_from) and envelope.rcpt_tos:
            return reply(Reply.INSUFFICIENT_STORAGE, Enhanced.TOO_MANY_RECIPIENTS,
                         "only one recipient allowed with a null reverse path")
        if smtppath.needs_smtputf8(address) and not envelope.smtp_utf8:
            return replies.NEEDS_SMTPUTF8
        if address.lower() == "postmaster":
            # RFC 5321 4.1.1.3: "<Postmaster>" without a domain must be accepted.
            address = f"postmaster@{config.Hostname}"
        try:
            parse_address(address)
        except AddressError as e:
            return reply(Reply.MAILBOX_NAME_NOT_ALLOWED, Enhanced.BAD_DESTINATION_SYNTAX,
                         f"malformed recipient address: {e}")
        if failure := await self.simulated_failure(server, "RCPT", address):
            return failure
        if configlib.delivery_account(config, address) is None:
            return reply(Reply.MAILBOX_UNAVAILABLE, Enhanced.BAD_DESTINATION_MAILBOX, "no such user")
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return replies.RECIPIENT_OK

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        config = self.config.current()
        data = envelope.original_content or b""
        if bare_line_ending(data):
            return replies.BARE_LINE_ENDING
        headers = msgparse.parse_headers(data)
        if received_count(headers) > MAX_RECEIVED:
            return reply(Reply.MAILBOX_UNAVAILABLE, Enhanced.ROUTING_LOOP,
                         f"mail loop: more than {MAX_RECEIVED} Received header fields")

        recipients = list(envelope.rcpt_tos)
        if config.Localserve:
            failures = {rcpt: localserve.error_at("DATA", rcpt) for rcpt in recipients}
            stall = next((f for f in failures.values() if f and f.stall), None)
            if stall:
                # mox holds the whole transaction for a recipient asking for a timeout.
                return await self.simulate(server, stall)
            errors = {rcpt: f.reply if f else None for rcpt, f in failures.items()}
            failed = [e for e in errors.values() if e]
            if failed and len(failed) == len(recipients):
                return _combined_error(failed)
            # RFC 5321 3.3: the others still get the message (localserve sends no DSN for the failed).
            recipients = [rcpt for rcpt in recipients if not errors[rcpt]]

        mail_from = "" if smtppath.is_null(envelope.mail_from) else envelope.mail_from or ""
        remote_ip = peer_ip(session)
        try:
            verdict = await checks.check(self._resolver(config), data, remote_ip=remote_ip,
                                         helo=session.host_name or "", mail_from=mail_from, headers=headers)
        except Exception:
            log.exception("checking incoming message")
            return replies.try_again_later("error checking message")
        if verdict.dmarc_reject:
            log.info("rejected by dmarc policy from=%s msgfrom=%s remote=%s", mail_from, verdict.msg_from_domain,
                     remote_ip)
            return reply(Reply.MAILBOX_UNAVAILABLE, Enhanced.DELIVERY_NOT_AUTHORIZED,
                         f"rejected per DMARC policy of {verdict.msg_from_domain}")

        targets: dict[tuple[str, str], str] = {}
        for rcpt in recipients:
            target = configlib.delivery_account(config, rcpt)
            if target is not None:
                targets.setdefault(target, rcpt)
        single = recipients[0] if len(recipients) == 1 else None
        prefix = received_header(session, envelope, self.hostname, single)
        prefix += verdict.authentication_results(self.hostname, mail_from)
        stored = prefix + data
        dsn = dsnlib.is_dsn(headers)
        try:
            for (account_name, mailbox), rcpt in targets.items():
                meta = DeliveryMeta(mail_from=smtppath.unicode_path(mail_from), rcpt_to=smtppath.unicode_path(rcpt),
                                    remote_ip=remote_ip, mail_from_validated=verdict.mail_from_validated,
                                    msg_from_validated=verdict.msg_from_validated,
                                    dkim_domains=verdict.dkim_domains, dsn=dsn)
                message = await self.inbound.deliver(account_name, mailbox, stored, meta, headers)
                if message is None:
                    continue  # a delivery rule discarded it (logged there); still a success for the sender
                log.info("delivered account=%s mailbox=%s msgid=%d size=%d from=%s rcpt=%s spf=%s dkim=%s "
                         "dmarc=%s dsn=%s", account_name, mailbox, message.id, message.size, mail_from, rcpt,
                         verdict.spf, ",".join(verdict.dkim_domains) or "-", verdict.dmarc, dsn)
        except Exception as e:
            if storage_full(e):
                log.warning("storing incoming message: storage full: %s", e)
                return replies.STORAGE_FULL
            log.exception("storing incoming message")
            return replies.try_again_later("error storing message")
        return reply(Reply.COMPLETED, Enhanced.OTHER, "message delivered")


def _combined_error(failures: list[str]) -> str:
    """One reply for a transaction in which every recipient failed."""
    codes = {r[:3] for r in failures}
    if len(codes) == 1:
        return failures[0]
    permanent = all(r.startswith("5") for r in failures)
    return reply(Reply.TRANSACTION_FAILED if permanent else Reply.LOCAL_ERROR, Enhanced.OTHER,
                 "delivery failed for every recipient: " + "; ".join(failures))

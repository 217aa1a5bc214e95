"""The delivery role: mail from anywhere for addresses we host.

Recipients are resolved to an account at RCPT (550 5.1.1 for unknown ones;
localserve accepts every address). At the end of DATA the message gets a
Received header and is stored once per account and mailbox; 250 is sent
only after the store has fsync'ed it.
"""

from __future__ import annotations

import email.utils
import logging
import secrets

from aiosmtpd.smtp import SMTP, Envelope, Session

from .. import config as configlib
from ..message.address import AddressError, parse_domain
from ..store import DeliveryMeta, Store
from . import localserve

log = logging.getLogger("moxpy.smtpserver")


def received_header(session: Session, envelope: Envelope, hostname: str, recipient: str | None) -> bytes:
    """RFC 5321 4.4 trace header; 'for' only when there is a single recipient."""
    peer_ip = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer)
    helo = session.host_name or "unknown"
    protocol = "UTF8SMTP" if envelope.smtp_utf8 else "ESMTP"
    if session.ssl is not None:
        protocol += "S"
    line = f"Received: from {helo} ([{peer_ip}])\r\n\tby {hostname} with {protocol} id {secrets.token_urlsafe(9)}"
    if recipient:
        line += f"\r\n\tfor <{recipient}>"
    line += f";\r\n\t{email.utils.format_datetime(email.utils.localtime())}\r\n"
    return line.encode("utf-8")


def unicode_address(address: str) -> str:
    """An SMTP path with its domain in Unicode form, as mox reports MailFrom and RcptTo."""
    local, at, domain = address.rpartition("@")
    if not at:
        return address
    try:
        return f"{local}@{parse_domain(domain)[0]}"
    except AddressError:
        return address


class DeliveryHandler:
    def __init__(self, get_config, store: Store, hostname: str):
        self.get_config = get_config
        self.store = store
        self.hostname = hostname

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          mail_options: list[str]) -> str:
        if self.get_config().Localserve:
            error = localserve.error_at("MAIL", address)
            if error:
                return error
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 sender ok"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        config = self.get_config()
        if config.Localserve:
            error = localserve.error_at("RCPT", address)
            if error:
                return error
        if configlib.delivery_account(config, address) is None:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 recipient ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        config = self.get_config()
        if config.Localserve:
            for rcpt in envelope.rcpt_tos:
                error = localserve.error_at("DATA", rcpt)
                if error:
                    return error
        data = envelope.original_content or b""
        targets: dict[tuple[str, str], str] = {}
        for rcpt in envelope.rcpt_tos:
            target = configlib.delivery_account(config, rcpt)
            if target is not None:
                targets.setdefault(target, rcpt)
        single = envelope.rcpt_tos[0] if len(envelope.rcpt_tos) == 1 else None
        stored = received_header(session, envelope, self.hostname, single) + data
        peer_ip = session.peer[0] if isinstance(session.peer, tuple) else ""
        try:
            for (account_name, mailbox), rcpt in targets.items():
                meta = DeliveryMeta(mail_from=unicode_address(envelope.mail_from or ""), rcpt_to=unicode_address(rcpt),
                                    remote_ip=peer_ip)
                row = await self.store.account(account_name).deliver(stored, mailbox, meta=meta)
                log.info("delivered account=%s mailbox=%s msgid=%d size=%d from=%s rcpt=%s", account_name,
                         mailbox, row["id"], row["size"], envelope.mail_from, rcpt)
        except Exception:
            log.exception("storing incoming message")
            return "451 4.3.0 error storing message, try again later"
        return "250 2.0.0 message delivered"

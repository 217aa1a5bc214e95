"""The remote end of direct-delivery tests, on loopback: an SMTP server
(aiosmtpd) with STARTTLS and optional REQUIRETLS. Their DNS is
tests/dnsserver.py's."""

from __future__ import annotations

import asyncio
import ssl
from collections import Counter
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from .localserve import free_ports


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    tls: bool
    mail_options: list[str]


@dataclass
class PeerHandler:
    offer_requiretls: bool = True
    # Replies to RCPT by recipient localpart, e.g. {"unknown": "550 5.1.1 no such user"}.
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    # Seconds each DATA takes to answer, and the most DATA commands in progress at once by recipient domain.
    data_delay: float = 0.0
    in_data: Counter = field(default_factory=Counter)
    most_in_data: Counter = field(default_factory=Counter)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.offer_requiretls and session.ssl is not None:
            # RFC 8689 4: REQUIRETLS is only announced on a TLS connection.
            responses.insert(len(responses) - 1, "250-REQUIRETLS")
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.rcpt_replies.get(address.rpartition("@")[0])
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 ok"

    async def handle_DATA(self, server, session, envelope):
        domain = envelope.rcpt_tos[0].rpartition("@")[2] if envelope.rcpt_tos else ""
        self.in_data[domain] += 1
        self.most_in_data[domain] = max(self.most_in_data[domain], self.in_data[domain])
        try:
            await asyncio.sleep(self.data_delay)
        finally:
            self.in_data[domain] -= 1
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content,
                                      session.ssl is not None, list(envelope.mail_options)))
        return "250 2.0.0 accepted"


class _PeerSMTP(SMTP):
    def _getparams(self, params):
        # aiosmtpd refuses MAIL parameters it does not know; REQUIRETLS is
        # accepted here and recorded by the handler from mail_options.
        return super()._getparams([p for p in params if p.upper() != "REQUIRETLS"])


class _PeerController(Controller):
    def factory(self):
        return _PeerSMTP(self.handler, hostname="mx.example.test", tls_context=self.tls_context,
                         require_starttls=False, decode_data=False, enable_SMTPUTF8=True)


class SMTPPeer:
    def __init__(self, cert: str, key: str):
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        self.handler = PeerHandler()
        self.port = free_ports(1)[0]
        self.controller = _PeerController(self.handler, hostname="127.0.0.1", port=self.port,
                                          server_hostname="mx.example.test")
        self.controller.tls_context = context
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

"""Remote ends for direct-delivery tests, on loopback: a tiny DNS server
answering from a table (dnspython builds and parses the wire messages) and
an SMTP server (aiosmtpd) with STARTTLS and optional REQUIRETLS."""

from __future__ import annotations

import socket
import ssl
import threading
from dataclasses import dataclass, field

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from .localserve import free_ports


class DNSServer:
    """Answers A, AAAA and MX queries from records {(name, type): [values]} over UDP.

    A name present with other types only gets an empty answer; an unknown
    name gets NXDOMAIN.
    """

    def __init__(self, records: dict[tuple[str, str], list[str]]):
        self.records = {(name.lower().rstrip("."), typ): values for (name, typ), values in records.items()}
        self.names = {name for name, _ in self.records}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.queries: list[tuple[str, str]] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            try:
                query = dns.message.from_wire(data)
            except Exception:
                continue
            response = dns.message.make_response(query)
            response.flags |= dns.flags.AA
            question = query.question[0]
            name = question.name.to_text(omit_final_dot=True).lower()
            typ = dns.rdatatype.to_text(question.rdtype)
            self.queries.append((name, typ))
            values = self.records.get((name, typ))
            if values:
                response.answer.append(dns.rrset.from_text(question.name, 60, "IN", typ, *values))
            elif name not in self.names:
                response.set_rcode(dns.rcode.NXDOMAIN)
            self.sock.sendto(response.to_wire(), peer)

    def close(self) -> None:
        self.sock.close()


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

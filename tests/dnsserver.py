"""The one DNS server of the tests: a small authoritative server on loopback
answering A, AAAA, MX, TXT (any type) queries from a dict {(name, type):
[values]}. A name present with other types only, or a parent of a present
name, gets an empty answer; any other name NXDOMAIN. Built on dnspython's
message codec; runs in its own thread with its own event loop, and records
the questions it was asked (queries)."""

from __future__ import annotations

import asyncio
import threading

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset


class DNSServer:
    def __init__(self, records: dict[tuple[str, str], list[str]] | None = None):
        self.records: dict[tuple[str, str], list[str]] = {}
        for (name, rdtype), values in (records or {}).items():
            self.set(name, rdtype, values)
        self.port = 0
        self.queries: list[tuple[str, str]] = []  # (name, type) of every question, in order
        self._loop = asyncio.new_event_loop()
        self._transport = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def set(self, name: str, rdtype: str, values: list[str]) -> None:
        self.records[(name.lower().rstrip("."), rdtype.upper())] = values

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, port: int = 0) -> "DNSServer":
        server = self

        class Protocol(asyncio.DatagramProtocol):
            def connection_made(self, transport):
                self.transport = transport

            def datagram_received(self, data, addr):
                self.transport.sendto(server._answer(data), addr)

        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(
            self._loop.create_datagram_endpoint(Protocol, local_addr=("127.0.0.1", port)), self._loop)
        self._transport, _ = future.result(5)
        self.port = self._transport.get_extra_info("sockname")[1]
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._transport.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _answer(self, wire: bytes) -> bytes:
        query = dns.message.from_wire(wire)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        rdtype = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((name, rdtype))
        values = self.records.get((name, rdtype))
        if values:
            if rdtype == "TXT":
                # Split long strings at 255 octets, as a zone file would (RFC 1035 3.3.14).
                texts = [" ".join(f'"{v[i:i + 255]}"' for i in range(0, len(v), 255)) for v in values]
            else:
                texts = values
            response.answer.append(dns.rrset.from_text_list(question.name, 60, "IN", rdtype, texts))
        elif not any(n == name or n.endswith("." + name) for n, _ in self.records):
            response.set_rcode(dns.rcode.NXDOMAIN)
        return response.to_wire()

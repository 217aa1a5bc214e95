"""What the POP3 and IMAP clients share: where to connect and how, and the
interface a collector uses. The clients block; the collector runs each call
in a thread.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass, field
from typing import Protocol

from .plan import Remote

TIMEOUT = 60.0  # seconds any one network operation may take


@dataclass
class Endpoint:
    host: str
    port: int
    tls: str  # "implicit", "starttls" or "none"
    skip_verify: bool  # accept any certificate
    username: str
    password: str = field(repr=False)
    max_size: int = 0  # octets a message may have; 0 for no limit
    timeout: float = TIMEOUT


def client_context(skip_verify: bool) -> ssl.SSLContext:
    """TLS for a client: the system's trusted certificates and the host name checked, unless skip_verify."""
    context = ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class RemoteMailbox(Protocol):
    peer_ip: str  # the address connected to
    uidvalidity: int  # IMAP UIDVALIDITY of the selected mailbox; 0 for POP3
    with_protocol: str  # for the Received header: POP3, POP3S, IMAP, IMAPS (S: with TLS)

    def listing(self) -> list[Remote]:
        """Every message in the mailbox, in the server's order."""
        ...

    def retrieve(self, item: Remote) -> bytes | None:
        """The message's bytes; None when it is gone meanwhile."""
        ...

    def delete(self, item: Remote) -> None:
        """Mark the message for removal, done by close()."""
        ...

    def close(self) -> None:
        """Remove what was marked and log out."""
        ...

    def abort(self) -> None:
        """Drop the connection; nothing marked is removed."""
        ...

    def interrupt(self) -> None:
        """From another thread: make a call waiting on the network fail at once."""
        ...


def interrupt(sock) -> None:
    """Shut a socket down under a thread reading it. Only the socket: closing the file over it would wait
    for the lock the reading thread holds."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except (OSError, AttributeError):
        pass

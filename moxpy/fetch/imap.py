"""The IMAP client of fetch rules (RFC 9051, RFC 3501), over the standard
imaplib.

The mailbox is selected (read-only unless messages are to be removed),
messages are listed with their UID and size and fetched with BODY.PEEK[],
which leaves their \\Seen flag alone. Removal marks \\Deleted once the
local copy is stored, then expunges: with UIDPLUS (RFC 4315 2.1) only the
UIDs marked, otherwise with EXPUNGE, which also removes what others marked
\\Deleted in that mailbox, as any client's EXPUNGE does.
"""

from __future__ import annotations

import imaplib
import re

from .failure import AUTH_FAILED, ERROR, FetchFailure
from .plan import Remote, imap_key
from .remote import Endpoint, client_context, interrupt

_FETCH_UID = re.compile(rb"\bUID (\d+)")
_FETCH_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)")
# Above the size limit: a literal this much larger is a server that said one size and sends another.
_LITERAL_SLACK = 64 * 1024


class _IMAPLimits:
    """imaplib with a cap on the size of a literal (a message body) it reads."""

    max_literal = 0

    def read(self, size):
        if self.max_literal and size > self.max_literal:
            raise FetchFailure(ERROR, f"the IMAP server sent a literal of {size} octets, over the size limit")
        return super().read(size)


class _IMAPPlain(_IMAPLimits, imaplib.IMAP4):
    pass


class _IMAPImplicit(_IMAPLimits, imaplib.IMAP4_SSL):
    pass


def quoted(text: str | bytes) -> bytes:
    """RFC 9051 4.3: a quoted string."""
    raw = text.encode("ascii") if isinstance(text, str) else text
    return b'"' + raw.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def mailbox_name(name: str) -> bytes:
    """RFC 3501 5.1.3: the modified UTF-7 form of a mailbox name, quoted."""
    import twisted.mail.imap4  # noqa: F401  registers the imap4-utf-7 codec

    return quoted(name.encode("imap4-utf-7"))


def _text(e: BaseException) -> str:
    arg = e.args[0] if e.args else b""
    return arg.decode("utf-8", "replace") if isinstance(arg, bytes) else str(arg)


def _check(typ: str, data: list, what: str) -> list:
    if typ != "OK":
        text = data[-1].decode("utf-8", "replace") if data and isinstance(data[-1], bytes) else str(data)
        raise FetchFailure(ERROR, f"{what}: {text}")
    return data


class IMAPMailbox:
    def __init__(self, endpoint: Endpoint, mailbox: str, writable: bool):
        self.endpoint = endpoint
        self.uidvalidity = 0
        self._marked: list[int] = []
        if endpoint.tls == "implicit":
            self._client = _IMAPImplicit(endpoint.host, endpoint.port, ssl_context=client_context(endpoint.skip_verify),
                                     timeout=endpoint.timeout)
        else:
            self._client = _IMAPPlain(endpoint.host, endpoint.port, timeout=endpoint.timeout)
        try:
            self.peer_ip = self._client.sock.getpeername()[0]
            if endpoint.tls == "starttls":
                try:
                    self._client.starttls(ssl_context=client_context(endpoint.skip_verify))  # RFC 9051 6.2.1
                except imaplib.IMAP4.error as e:
                    raise FetchFailure(ERROR, f"STARTTLS: {_text(e)}") from None
            self.with_protocol = "IMAP" if endpoint.tls == "none" else "IMAPS"
            self._login()
            self._client.max_literal = endpoint.max_size + _LITERAL_SLACK if endpoint.max_size else 0
            typ, data = self._client.capability()
            self._capabilities = set(_check(typ, data, "CAPABILITY")[0].upper().split())
            self._count = self._select(mailbox, writable)
        except BaseException:
            self.abort()
            raise

    def _login(self) -> None:
        user, password = self.endpoint.username, self.endpoint.password
        client = self._client
        if "LOGINDISABLED" in client.capabilities and "AUTH=PLAIN" not in client.capabilities:
            raise FetchFailure(ERROR, "the server does not allow logging in without TLS (LOGINDISABLED)")
        try:
            if user.isascii() and password.isascii() and "LOGINDISABLED" not in client.capabilities:
                client.login(quoted(user).decode("ascii"), password)
            else:
                # RFC 4616: PLAIN carries UTF-8, which LOGIN's strings may not.
                client.authenticate("PLAIN", lambda _: b"\0" + user.encode() + b"\0" + password.encode())
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error as e:
            raise FetchFailure(AUTH_FAILED, f"login refused: {_text(e)}") from None

    def _select(self, mailbox: str, writable: bool) -> int:
        typ, data = self._client.select(mailbox_name(mailbox), readonly=not writable)
        _check(typ, data, f"selecting mailbox {mailbox}")
        _, validity = self._client.response("UIDVALIDITY")
        if not validity or not validity[0]:
            raise FetchFailure(ERROR, f"the server gave no UIDVALIDITY for mailbox {mailbox}")
        self.uidvalidity = int(validity[0])
        return int(data[0] or 0)

    def listing(self) -> list[Remote]:
        if self._count == 0:
            return []
        typ, data = self._client.uid("FETCH", "1:*", "(UID RFC822.SIZE)")
        result = []
        for item in _check(typ, data, "listing messages"):
            line = item[0] if isinstance(item, tuple) else item
            if not isinstance(line, bytes):
                continue
            uid, size = _FETCH_UID.search(line), _FETCH_SIZE.search(line)
            if uid and size:
                result.append(Remote(key=imap_key(self.uidvalidity, int(uid[1])), ref=int(uid[1]), size=int(size[1])))
        return sorted(result, key=lambda r: r.ref)

    def retrieve(self, item: Remote) -> bytes | None:
        typ, data = self._client.uid("FETCH", str(item.ref), "(BODY.PEEK[])")
        for part in _check(typ, data, f"fetching UID {item.ref}"):
            if isinstance(part, tuple) and b"BODY[]" in part[0]:
                uid = _FETCH_UID.search(part[0])
                if uid is None or int(uid[1]) == item.ref:
                    return part[1]
        return None  # expunged meanwhile

    def delete(self, item: Remote) -> None:
        typ, data = self._client.uid("STORE", str(item.ref), "+FLAGS.SILENT", "(\\Deleted)")
        _check(typ, data, f"marking UID {item.ref} deleted")
        self._marked.append(item.ref)

    def close(self) -> None:
        try:
            if self._marked:
                if "UIDPLUS" in self._capabilities:
                    typ, data = self._client.uid("EXPUNGE", ",".join(str(u) for u in self._marked))
                else:
                    typ, data = self._client.expunge()
                _check(typ, data, "expunging")
            self._client.logout()
        finally:
            self.abort()

    def abort(self) -> None:
        try:
            self._client.shutdown()
        except (OSError, AttributeError):
            pass  # closed already

    def interrupt(self) -> None:
        interrupt(self._client.sock)

"""Composing outgoing messages from parts, as the webapi's Send does.

Layout (as mox): Text and HTML together make multipart/alternative, with any
alternative files joining it; inline files wrap that in multipart/related;
attached files wrap everything in multipart/mixed. Text parts use 7bit when
they are ASCII with short lines, quoted-printable otherwise, so no line on
the wire exceeds 78 characters (RFC 5322 2.1.1). Files are base64.
"""

from __future__ import annotations

import email.utils
import functools
import mimetypes
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.headerregistry import HeaderRegistry
from email.message import EmailMessage, MIMEPart

from . import headerwriter as hw
from .address import Address

# The header values of one message together, so that no header is pathologically large.
MAX_HEADER_SECTION = 1024 * 1024
# A file name, content type or content ID: real ones are far shorter.
MAX_PART_VALUE = 4096
# What a MIME part costs to compose, counted in octets of text (see Draft.size).
PART_COST = 32 * 1024


class ComposeError(ValueError):
    """Bad input for composition; the message says what."""


@dataclass
class Attachment:
    data: bytes
    name: str = ""
    content_type: str = ""  # detected when empty
    content_id: str = ""


@dataclass
class Draft:
    sender: tuple[str, Address]
    to: list[tuple[str, Address]] = field(default_factory=list)
    cc: list[tuple[str, Address]] = field(default_factory=list)
    bcc: list[tuple[str, Address]] = field(default_factory=list)
    reply_to: list[tuple[str, Address]] = field(default_factory=list)
    hostname: str = "localhost"
    message_id: str = ""
    references: list[str] = field(default_factory=list)
    date: datetime | None = None
    subject: str = ""
    text: str = ""
    html: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    alternative_files: list[Attachment] = field(default_factory=list)
    inline_files: list[Attachment] = field(default_factory=list)
    attached_files: list[Attachment] = field(default_factory=list)
    user_agent: str = "moxpy"

    def size(self) -> int:
        """Roughly the octets composing works on: what decides where it runs (offload.run). Each file
        counts PART_COST more: the email package takes about half a millisecond per part, whatever its size."""
        files = self.alternative_files + self.inline_files + self.attached_files
        return (len(self.text) + len(self.html) + len(self.subject) + sum(len(k) + len(v) for k, v in self.headers)
                + sum(PART_COST + len(f.data) + len(f.name) + len(f.content_type) for f in files)
                + sum(len(n) + len(str(a)) for n, a in self.to + self.cc + self.bcc + self.reply_to)
                + len(self.message_id) + sum(len(r) for r in self.references))


@dataclass
class Composed:
    data: bytes  # the message as sent: no Bcc header
    sent_copy: bytes  # for the Sent mailbox: with a Bcc header when there are BCC recipients
    message_id: str
    smtputf8: bool


class _HeaderClasses(HeaderRegistry):
    """The email package's header registry, remembering the class it makes per
    header name: the stock registry builds a new class for every header set,
    which was a fifth of the time of composing a message."""

    @functools.lru_cache(maxsize=256)
    def __getitem__(self, name):
        return super().__getitem__(name)


_HEADERS = _HeaderClasses()
_SMTP = policy.SMTP.clone(max_line_length=hw.MAX_LINE, header_factory=_HeaderClasses())
_SMTPUTF8 = policy.SMTPUTF8.clone(max_line_length=hw.MAX_LINE, header_factory=_HeaderClasses())


def new_message_id(hostname: str) -> str:
    return f"<{secrets.token_urlsafe(16)}@{hostname}>"


def check_header_value(name: str, value: str) -> None:
    # RFC 5322 2.2: header bodies are printable characters, space and tab.
    for c in value:
        if (ord(c) < 0x20 and c != "\t") or c == "\x7f":
            raise ComposeError(f"control character in {name}")


def check_header_name(name: str) -> None:
    # RFC 5322 2.2: printable US-ASCII except colon.
    if not name or any(not 33 <= ord(c) <= 126 or c == ":" for c in name):
        raise ComposeError(f"invalid header name {name!r}")


def detect_content_type(data: bytes, name: str = "") -> str:
    """A content type from the file name, else from the data's first bytes."""
    guessed, _ = mimetypes.guess_type(name) if name else (None, None)
    if guessed:
        return guessed
    for signature, ctype in _SIGNATURES:
        if data.startswith(signature):
            return ctype
    head = data[:512]
    if head.lstrip().lower().startswith((b"<!doctype html", b"<html")):
        return "text/html"
    try:
        head.decode("utf-8")
        if all(b >= 0x20 or b in b"\t\r\n\f" for b in head):
            return "text/plain"
    except UnicodeDecodeError:
        pass
    return "application/octet-stream"


_SIGNATURES = [
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
    (b"\x1f\x8b", "application/gzip"),
    (b"RIFF", "application/octet-stream"),
]


def _text_cte(text: str) -> tuple[str, str]:
    """(charset, transfer encoding) that keep the text 7-bit with short lines."""
    ascii_text = text.isascii()
    short = all(len(line) <= hw.MAX_LINE for line in text.split("\n"))
    charset = "us-ascii" if ascii_text else "utf-8"
    return charset, "7bit" if ascii_text and short else "quoted-printable"


def _set_text(part: EmailMessage, text: str, subtype: str) -> None:
    charset, cte = _text_cte(text)
    part.set_content(text, subtype=subtype, charset=charset, cte=cte)


def _file_type(f: Attachment) -> tuple[str, str, dict[str, str]]:
    """(maintype, subtype, parameters) of a file: its parameters are kept, as mox
    keeps the content type it is given (text/calendar needs its method, RFC 6047 2.4)."""
    value = f.content_type or detect_content_type(f.data, f.name)
    check_header_value("content type", value)
    maintype, _, subtype = value.split(";")[0].strip().lower().partition("/")
    if not maintype or not subtype:
        raise ComposeError(f"invalid content type {f.content_type!r}")
    params = _HEADERS("Content-Type", value).params if ";" in value else {}
    return maintype, subtype, {k: v for k, v in params.items() if k}


def _short(text: str) -> str:
    """text for an error message: a long value cut off, so the error does not echo a megabyte back."""
    return repr(text) if len(text) <= 40 else repr(text[:40]) + "..."


def check_bounds(draft: Draft, smtputf8: bool) -> None:
    """ComposeError for header input that cannot be written in lines of at most 998 octets (RFC 5322 2.1.1),
    or that makes a header section larger than MAX_HEADER_SECTION.

    Words of text and display names are folded or become encoded words, so any length can be written;
    a header name, a message ID or an address cannot be split, and a word of a custom header is kept as
    given (its field may have a syntax, such as a URL in List-Unsubscribe). The total is checked first,
    so nothing larger is looked at word by word.
    """
    total = sum(hw.octets(name) + hw.octets(str(addr)) for name, addr in
                [draft.sender] + draft.to + draft.cc + draft.bcc + draft.reply_to)
    total += hw.octets(draft.subject) + hw.octets(draft.message_id) + sum(hw.octets(r) for r in draft.references)
    total += sum(hw.octets(name) + hw.octets(value) for name, value in draft.headers)
    if total > MAX_HEADER_SECTION:
        raise ComposeError(f"header section too large: {total} octets of header values, the maximum is 1 MiB "
                           f"({MAX_HEADER_SECTION} octets)")

    def token(what: str, text: str) -> None:
        n = hw.octets(text)
        if n > hw.MAX_TOKEN:
            raise ComposeError(f"{what} too long to fit in a header line: {n} octets, the maximum is "
                               f"{hw.MAX_TOKEN} (RFC 5322 2.1.1 limits lines to 998 octets)")

    for header, addresses in (("From", [draft.sender]), ("To", draft.to), ("Cc", draft.cc), ("Bcc", draft.bcc),
                              ("Reply-To", draft.reply_to)):
        for _, addr in addresses:
            token(f"address {_short(str(addr))} in {header}", hw.addr_spec(addr, smtputf8))
    token("Message-ID", draft.message_id)
    for ref in draft.references:
        token(f"reference {_short(ref)} in References", ref)
    for name, value in draft.headers:
        token(f"header name {_short(name)}", name)
        for word in value.split(" "):
            if word.isascii() or smtputf8:
                token(f"word {_short(word)} in header {name}", word)
    for f in draft.alternative_files + draft.inline_files + draft.attached_files:
        # Part headers are written by the email package, whose folding is slow on long input.
        for what, value in (("file name", f.name), ("content type", f.content_type), ("content id", f.content_id)):
            n = hw.octets(value)
            if n > MAX_PART_VALUE:
                raise ComposeError(f"{what} {_short(value)} too long: {n} octets, the maximum is {MAX_PART_VALUE}")


def compose(draft: Draft) -> Composed:
    """The message for a draft; ComposeError for input that cannot make one.

    Takes time in proportion to the message's size (a large one tens of
    milliseconds and more): callers on an event loop run it in a thread.
    """
    everyone = [draft.sender] + draft.to + draft.cc + draft.bcc + draft.reply_to
    smtputf8 = any(addr.smtputf8 for _, addr in everyone)
    pol = _SMTPUTF8 if smtputf8 else _SMTP

    check_header_value("subject", draft.subject)
    check_header_value("message-id", draft.message_id)
    for ref in draft.references:
        check_header_value("references", ref)
    for name, value in draft.headers:
        check_header_name(name)
        check_header_value(name, value)
    for name, _ in everyone:
        check_header_value("address name", name)
    check_bounds(draft, smtputf8)
    message_id = draft.message_id or new_message_id(draft.hostname)

    # The top-level fields are written here, in one pass (see headerwriter); the MIME structure below
    # by the email package.
    head = [hw.field("From", hw.address_list([draft.sender], smtputf8))]
    for header, addresses in (("To", draft.to), ("Cc", draft.cc), ("Reply-To", draft.reply_to)):
        if addresses:
            head.append(hw.field(header, hw.address_list(addresses, smtputf8)))
    if draft.subject:
        head.append(hw.field("Subject", hw.unstructured(draft.subject, smtputf8, encode_long=True)))
    head.append(hw.field("Message-Id", [message_id]))
    if draft.references:
        head.append(hw.field("In-Reply-To", [draft.references[-1]]))
        head.append(hw.field("References", list(draft.references)))
    head.append(hw.field("Date", [email.utils.format_datetime(draft.date or email.utils.localtime())]))
    lower_names = {name.lower() for name, _ in draft.headers}
    for name, value in draft.headers:
        head.append(hw.field(name, hw.unstructured(value, smtputf8, encode_long=False)))
    if "user-agent" not in lower_names and "x-mailer" not in lower_names:
        head.append(hw.field("User-Agent", hw.unstructured(draft.user_agent, smtputf8, encode_long=True)))
    head.append("MIME-Version: 1.0\r\n")

    body = _body(draft, pol)
    del body["MIME-Version"]
    try:
        # The body's content fields and payload follow the fields above.
        data = "".join(head).encode("utf-8") + body.as_bytes(policy=pol)
    except (ValueError, TypeError, UnicodeError) as e:
        raise ComposeError(f"composing message: {e}") from None
    sent_copy = data
    if draft.bcc:
        sent_copy = hw.field("Bcc", hw.address_list(draft.bcc, smtputf8)).encode("utf-8") + data
    return Composed(data=data, sent_copy=sent_copy, message_id=message_id, smtputf8=smtputf8)


def _body(draft: Draft, pol) -> MIMEPart:
    body = MIMEPart(policy=pol)
    text = draft.text.replace("\r\n", "\n")
    html = draft.html.replace("\r\n", "\n")
    if text:
        _set_text(body, text, "plain")
        if html:
            charset, cte = _text_cte(html)
            body.add_alternative(html, subtype="html", charset=charset, cte=cte)
    elif html:
        _set_text(body, html, "html")
    for f in draft.alternative_files:
        # An alternative is a rendering of the message itself, so inline, as mox makes it.
        body.add_alternative(f.data, **_file_content(f, "inline"))
    if draft.inline_files:
        body = _wrap("related", body, pol)
        for f in draft.inline_files:
            body.attach(_file_part(f, "inline", pol))
    if draft.attached_files:
        body = _wrap("mixed", body, pol)
        for f in draft.attached_files:
            body.attach(_file_part(f, "attachment", pol))
    return body


def _wrap(subtype: str, inner: MIMEPart, pol) -> MIMEPart:
    outer = MIMEPart(policy=pol)
    getattr(outer, "make_" + subtype)()  # an empty multipart of that subtype
    outer.attach(inner)
    return outer


def _file_part(f: Attachment, disposition: str, pol) -> MIMEPart:
    part = MIMEPart(policy=pol)
    part.set_content(f.data, **_file_content(f, disposition))
    return part


def _file_content(f: Attachment, disposition: str) -> dict:
    """Keyword arguments of set_content and add_alternative for a file's bytes."""
    maintype, subtype, params = _file_type(f)
    if f.name:
        check_header_value("file name", f.name)
    if f.content_id:
        check_header_value("content-id", f.content_id)
    return dict(maintype=maintype, subtype=subtype, disposition=disposition, filename=f.name or None,
                cid=f.content_id or None, params=params)

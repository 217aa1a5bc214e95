"""Composing outgoing messages from parts, as the webapi's Send does.

Layout (as mox): Text and HTML together make multipart/alternative, with any
alternative files joining it; inline files wrap that in multipart/related;
attached files wrap everything in multipart/mixed. Text parts use 7bit when
they are ASCII with short lines, quoted-printable otherwise, so no line on
the wire exceeds 78 characters (RFC 5322 2.1.1). Files are base64.
Attached messages (a forward) come first in the multipart/mixed, as
message/rfc822 parts kept as they are, in 7bit or 8bit (RFC 2046 5.2.1):
their lines are the original's, up to 998 octets.

The message is written here in one pass, header fields by headerwriter,
parts and multiparts by the functions below, with the standard library's
codecs (base64, quoted-printable, RFC 2231 percent-encoding). The email
package only parses a file's content type when its parameters are more
than name=token.
"""

from __future__ import annotations

import binascii
import email.utils
import functools
import mimetypes
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import HeaderRegistry

from . import headerwriter as hw
from .address import Address

# The header values of one message together, so that no header is pathologically large.
MAX_HEADER_SECTION = 1024 * 1024
# A file name, content type or content ID: real ones are far shorter.
MAX_PART_VALUE = 4096
# RFC 6838 4.2: a type, subtype or parameter name is at most 127 characters.
MAX_NAME = 127
# What a MIME part costs to compose, counted in octets of text (see Draft.size).
PART_COST = 2 * 1024


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
    # Whole messages attached as message/rfc822 (a forward); content_type is not used.
    attached_messages: list[Attachment] = field(default_factory=list)
    user_agent: str = "moxpy"

    def size(self) -> int:
        """Roughly the octets composing works on: what decides where it runs (offload.run). Each file
        counts PART_COST more: writing a part's header fields takes about 30 µs whatever its size, as long
        as 2 KB of content."""
        files = self.alternative_files + self.inline_files + self.attached_files + self.attached_messages
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
    header name: the stock registry builds a new class for every header it parses."""

    @functools.lru_cache(maxsize=16)
    def __getitem__(self, name):
        return super().__getitem__(name)


# Parses the parameters of a file's content type: the one header the composer reads rather than writes.
_HEADERS = _HeaderClasses()


def new_message_id(hostname: str) -> str:
    return f"<{secrets.token_urlsafe(16)}@{hostname}>"


# RFC 5322 2.2: header bodies are printable characters, space and tab.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f]")


def check_header_value(name: str, value: str) -> None:
    if _CONTROL.search(value):
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
    # RFC 2045 2.7: 7bit data has no NUL and lines of at most 998 octets; we keep them to 78 (RFC 5322 2.1.1).
    seven_bit = ascii_text and "\0" not in text and max(map(len, text.split("\n"))) <= hw.MAX_LINE
    return "us-ascii" if ascii_text else "utf-8", "7bit" if seven_bit else "quoted-printable"


def _text_part(text: str, subtype: str) -> bytes:
    """A text/plain or text/html part: header fields, blank line, content."""
    # Any line end becomes one line break, and the text ends in one, as the email package made it.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.endswith("\n"):
        text += "\n"
    charset, cte = _text_cte(text)
    data = text.encode(charset)
    if cte == "quoted-printable":
        data = _quoted_printable(data)
    head = f'Content-Type: text/{subtype}; charset="{charset}"\r\nContent-Transfer-Encoding: {cte}\r\n\r\n'
    return head.encode("ascii") + data.replace(b"\n", b"\r\n")


# Quoted-printable is encoded this much at a time: the codec holds the GIL while it runs, and a thread
# composing a large text should let the event loop run every few milliseconds.
_QP_PIECE = 256 * 1024


# The standard library's codec makes lines of up to 78 characters where it encodes white space before a
# line break (as the email package did); such a line gets a soft line break before that last "=20".
_QP_OVERLONG = re.compile(rb"(?m)^(.{74,75})(=[0-9A-F]{2})$")


def _quoted_printable(data: bytes) -> bytes:
    """data (with LF line ends, ending in one) as quoted-printable (RFC 2045 6.7): soft line breaks,
    white space before a line break encoded, line breaks kept, lines of at most 76 characters."""
    out = []
    start = 0
    while start < len(data):
        end = min(start + _QP_PIECE, len(data))
        if end < len(data):
            # A piece ends at a line break, or within a very long line, where a soft line break goes.
            end = data.rfind(b"\n", start, end) + 1 or end
        out.append(_QP_OVERLONG.sub(rb"\1=\n\2", binascii.b2a_qp(data[start:end], istext=True)))
        if not out[-1].endswith(b"\n"):
            out.append(b"=\n")
        start = end
    return b"".join(out)


def _file_part(f: Attachment, disposition: str, smtputf8: bool) -> bytes:
    """A file's part, base64 in lines of 76 characters (RFC 2045 6.8)."""
    ctype, params = _file_type(f)
    if f.name:
        check_header_value("file name", f.name)
    fields = [hw.field("Content-Type", hw.parameters(ctype, params)),
              "Content-Transfer-Encoding: base64\r\n",
              # RFC 2183 2: the disposition, with the file name as a parameter (RFC 2231 when not ASCII).
              hw.field("Content-Disposition", hw.parameters(disposition, [("filename", f.name)] if f.name else []))]
    if f.content_id:
        check_header_value("content-id", f.content_id)
        # RFC 2045 7: a Content-ID is a message ID, ASCII unless the message's headers may be UTF-8 (RFC 6532 3.2).
        if not (f.content_id.isascii() or smtputf8):
            raise ComposeError(f"content id {_short(f.content_id)} is not ASCII")
        fields.append(hw.field("Content-ID", [f.content_id]))
    head = "".join(fields) + "\r\n"
    return head.encode("utf-8") + _base64(f.data)


# RFC 5322 2.1.1: a line is at most 998 octets without its CRLF.
_OVERLONG_LINE = re.compile(rb"[^\r\n]{999}")
_LINE_END = re.compile(rb"\r\n|\r|\n")


def _message_part(f: Attachment) -> bytes:
    """A message attached whole, as a message/rfc822 part (RFC 2046 5.2.1).

    Its body may only be 7bit, 8bit or binary, so a reader sees the message
    itself: it goes as it is, with its line ends made CRLF. A message that
    no 7bit or 8bit body can carry (a NUL, a line over 998 octets) is
    base64-encoded instead: readers take that too, and SMTP has no room for
    binary without BINARYMIME.
    """
    if f.name:
        check_header_value("file name", f.name)
    data = _LINE_END.sub(b"\r\n", f.data)
    if data and not data.endswith(b"\r\n"):
        data += b"\r\n"
    if b"\0" in data or _OVERLONG_LINE.search(data):
        cte, content = "base64", _base64(f.data)
    else:
        cte, content = "7bit" if data.isascii() else "8bit", data
    fields = [hw.field("Content-Type", ["message/rfc822"]),
              f"Content-Transfer-Encoding: {cte}\r\n",
              hw.field("Content-Disposition", hw.parameters("attachment", [("filename", f.name)] if f.name else []))]
    return ("".join(fields) + "\r\n").encode("utf-8") + content


def _base64(data: bytes) -> bytes:
    """data in base64 lines of 76 characters, 57 octets each, with CRLF (RFC 2045 6.8)."""
    if not data:
        return b""
    view, encode = memoryview(data), binascii.b2a_base64
    return b"\r\n".join([encode(view[i:i + 57], newline=False) for i in range(0, len(data), 57)]) + b"\r\n"


def _multipart(subtype: str, parts: list[bytes]) -> bytes:
    """A multipart of the parts (RFC 2046 5.1.1): each after a delimiter line, then the close delimiter.
    The CRLF before a delimiter belongs to the delimiter, so a part's content keeps its last line break."""
    boundary = _boundary(parts)
    out = [hw.field("Content-Type", hw.parameters("multipart/" + subtype, [("boundary", boundary.decode())])).encode(),
           b"\r\n"]
    for part in parts:
        out += [b"--", boundary, b"\r\n", part, b"\r\n"]
    out += [b"--", boundary, b"--\r\n"]
    return b"".join(out)


def _boundary(parts: list[bytes]) -> bytes:
    # RFC 2046 5.1.1: the boundary must not occur in the parts. It is random, and "=_" cannot occur in
    # base64 or quoted-printable content; a 7bit text or a header field could hold anything, so look.
    while True:
        boundary = ("=_" + secrets.token_urlsafe(18)).encode("ascii")
        if not any(boundary in part for part in parts):
            return boundary


# RFC 2045 5.1: a token is printable ASCII but space and tspecials.
_TOKEN = frozenset(map(chr, range(33, 127))) - frozenset('()<>@,;:\\"/[]?=')
# RFC 2231 7: a parameter name has no "*", "'" or "%" either, as they mark sections and charsets.
_NAME = _TOKEN - frozenset("*'%")


def _is_token(text: str, allowed: frozenset = _TOKEN) -> bool:
    return 0 < len(text) <= MAX_NAME and allowed.issuperset(text)


def _file_type(f: Attachment) -> tuple[str, list[tuple[str, str]]]:
    """("type/subtype", parameters) of a file: its parameters are kept, as mox keeps the content type it is
    given (text/calendar needs its method, RFC 6047 2.4)."""
    value = f.content_type or detect_content_type(f.data, f.name)
    check_header_value("content type", value)
    maintype, _, subtype = value.split(";")[0].lower().partition("/")
    maintype, subtype = maintype.strip(), subtype.strip()
    if not _is_token(maintype) or not _is_token(subtype):
        raise ComposeError(f"invalid content type {_short(f.content_type)}")
    params = _simple_params(value) if ";" in value else {}
    if params is None:
        # Parsed by the email package: quoting, comments and RFC 2231 sections undone.
        params = _HEADERS("Content-Type", value).params
    for name in params:
        if name and not _is_token(name, _NAME):
            raise ComposeError(f"invalid parameter name {_short(name)} in content type {_short(value)}")
    return f"{maintype}/{subtype}", [(name, param) for name, param in params.items() if name]


def _simple_params(value: str) -> dict[str, str] | None:
    """The parameters when each is name=token (RFC 2045 5.1), as in "text/calendar; method=REQUEST",
    else None: then quoting, comments or RFC 2231 sections need a real parser, which takes a
    hundred times longer."""
    params: dict[str, str] = {}
    for item in value.split(";")[1:]:
        name, equals, param = item.partition("=")
        name, param = name.strip().lower(), param.strip()
        if not item.strip():
            continue  # an empty parameter, as in "text/plain;"
        if not equals or not _is_token(name, _NAME) or not _is_token(param):
            return None
        params.setdefault(name, param)  # the first of duplicates, as the email package keeps it
    return params


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
    for f in draft.alternative_files + draft.inline_files + draft.attached_files + draft.attached_messages:
        # A file name or parameter can be written in sections of any number, but no real one is this long.
        for what, value in (("file name", f.name), ("content type", f.content_type), ("content id", f.content_id)):
            n = hw.octets(value)
            if n > MAX_PART_VALUE:
                raise ComposeError(f"{what} {_short(value)} too long: {n} octets, the maximum is {MAX_PART_VALUE}")
        if len(f.content_id) > hw.MAX_TOKEN // 4:  # a UTF-8 character is at most 4 octets
            token(f"content id {_short(f.content_id)}", f.content_id)


def compose(draft: Draft) -> Composed:
    """The message for a draft; ComposeError for input that cannot make one.

    Takes time in proportion to the message's size (a large one tens of
    milliseconds and more): callers on an event loop run it in a thread.
    """
    everyone = [draft.sender] + draft.to + draft.cc + draft.bcc + draft.reply_to
    smtputf8 = any(addr.smtputf8 for _, addr in everyone)

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

    # The top-level fields, then the body's content fields and its content.
    try:
        data = (_head(draft, message_id, smtputf8) + "MIME-Version: 1.0\r\n").encode("utf-8") + _body(draft, smtputf8)
        sent_copy = data
        if draft.bcc:
            sent_copy = hw.field("Bcc", hw.address_list(draft.bcc, smtputf8)).encode("utf-8") + data
    except UnicodeError as e:
        # Text from JSON may hold lone surrogates, which no charset can encode.
        raise ComposeError(f"composing message: {e}") from None
    return Composed(data=data, sent_copy=sent_copy, message_id=message_id, smtputf8=smtputf8)


def _head(draft: Draft, message_id: str, smtputf8: bool) -> str:
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
    return "".join(head)


def _body(draft: Draft, smtputf8: bool) -> bytes:
    """The body's content fields, a blank line and its content: one part, or multiparts as the module says."""
    alternative = []
    if draft.text:
        alternative.append(_text_part(draft.text, "plain"))
    if draft.html:
        alternative.append(_text_part(draft.html, "html"))
    # An alternative file is a rendering of the message itself, so inline, as mox makes it.
    alternative += [_file_part(f, "inline", smtputf8) for f in draft.alternative_files]
    body = _multipart("alternative", alternative) if draft.alternative_files or len(alternative) > 1 else (
        alternative[0] if alternative else None)
    if draft.inline_files:
        # Without text, the multipart holds only the files, as mox makes it.
        body = _multipart("related", ([body] if body else []) +
                          [_file_part(f, "inline", smtputf8) for f in draft.inline_files])
    if draft.attached_messages or draft.attached_files:
        body = _multipart("mixed", ([body] if body else []) + [_message_part(m) for m in draft.attached_messages] +
                          [_file_part(f, "attachment", smtputf8) for f in draft.attached_files])
    return body if body is not None else b"\r\n"

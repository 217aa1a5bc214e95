"""The MIME tree of a stored message with byte offsets into its exact bytes.

IMAP serves sections of a message (BODY[1.2], BODY[1.MIME], ...) byte for
byte as stored, and describes every part in BODYSTRUCTURE with its size in
octets and lines. Python's email package parses headers well but forgets
where each part sits in the original bytes, so this module finds the part
boundaries itself (RFC 2046 5.1.1) and leaves header parsing to the email
package. The result is a small tree of plain values that the store keeps
with each message, so FETCH needs neither the file nor a parse.

It does not render IMAP syntax (imapserver does) and never raises on bad
input: a message without a header, a multipart without boundaries or with
a missing close delimiter still yields a usable tree.
"""

from __future__ import annotations

import email.utils
import re
from email.message import Message

import msgspec

from . import address_list
from . import headers as headerlib

MAX_DEPTH = 50  # nesting beyond this is treated as an opaque leaf

_FOLD = re.compile(r"\r?\n(?=[ \t])")


class EnvelopeAddress(msgspec.Struct, array_like=True):
    """An address as IMAP's ENVELOPE lists it (RFC 3501 7.4.2).

    Groups are marked as there: a group starts with an address holding only
    the group's name as mailbox and ends with an address of empty fields.
    """

    name: str = ""
    mailbox: str = ""  # local part
    host: str = ""


class Envelope(msgspec.Struct, array_like=True):
    """Header fields of a message, unparsed except for addresses (RFC 3501 7.4.2)."""

    date: str = ""
    subject: str = ""
    from_: list[EnvelopeAddress] = []
    sender: list[EnvelopeAddress] = []
    reply_to: list[EnvelopeAddress] = []
    to: list[EnvelopeAddress] = []
    cc: list[EnvelopeAddress] = []
    bcc: list[EnvelopeAddress] = []
    in_reply_to: str = ""
    message_id: str = ""


class Part(msgspec.Struct, array_like=True):
    """One MIME part: where it is, and what BODYSTRUCTURE says of it."""

    header_start: int = 0  # offset of the part's header section
    body_start: int = 0  # offset of its body, after the empty line
    end: int = 0  # offset just past its body
    media_type: str = "text"  # lower case
    subtype: str = "plain"
    params: list[tuple[str, str]] = []  # Content-Type parameters, names lower case, in order
    content_id: str = ""
    description: str = ""
    encoding: str = "7BIT"  # Content-Transfer-Encoding, upper case
    lines: int = 0  # body lines, for text/* and message/rfc822
    md5: str = ""
    disposition: str = ""  # lower case, empty when absent
    disposition_params: list[tuple[str, str]] = []
    language: str = ""
    location: str = ""
    parts: list[Part] = []  # sub-parts of a multipart
    message: Part | None = None  # the encapsulated message of a message/rfc822 part
    envelope: Envelope | None = None  # set for a message: the top level and message/rfc822 contents

    @property
    def size(self) -> int:
        return self.end - self.body_start

    @property
    def multipart(self) -> bool:
        return self.media_type == "multipart"


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Part)


def encode(part: Part) -> bytes:
    return _encoder.encode(part)


def decode(data: bytes) -> Part:
    return _decoder.decode(data)


def parse(data: bytes) -> Part:
    """The MIME tree of a whole message."""
    return _parse(data, 0, len(data), "text/plain", 0, True)


def _text(value) -> str:
    """A header value as a str of its bytes decoded as UTF-8 (mail is raw bytes; stdlib uses surrogates)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        value = str(value)
    try:
        return value.encode("ascii", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return value  # already text


def _raw_all(msg: Message, name: str) -> list[str]:
    """Every value of a header as stored (the policy's fetch would wrap 8-bit values)."""
    name = name.lower()
    return [_text(v) for k, v in msg.raw_items() if k.lower() == name]


def _raw(msg: Message, name: str) -> str:
    values = _raw_all(msg, name)
    # RFC 5322 2.2.3: unfolding removes the line breaks, nothing else.
    return _FOLD.sub("", values[0]).strip() if values else ""


def _params(msg: Message, header: str) -> list[tuple[str, str]]:
    raw = _raw(msg, header)
    if not raw:
        return []
    # Parse the value as stored, decoded as UTF-8: the header's own object would have lost 8-bit bytes.
    holder = Message()
    holder[header] = raw
    try:
        params = holder.get_params(header=header) or []
    except Exception:
        return []
    result = []
    for key, value in params[1:]:
        if isinstance(value, tuple):  # RFC 2231 encoded
            value = email.utils.collapse_rfc2231_value(value)
        result.append((str(key).lower(), str(value)))
    return result


def _addresses(msg: Message, name: str) -> list[EnvelopeAddress]:
    result = []
    for value in _raw_all(msg, name):
        for group, text in address_list.split_groups(value):
            if group is not None:
                result.append(EnvelopeAddress("", group, ""))
            for display, address in address_list.mailboxes(text):
                local, at, host = address.rpartition("@")
                if not at:
                    local, host = address, ""
                result.append(EnvelopeAddress(display, local, host))
            if group is not None:
                result.append(EnvelopeAddress())
    return result


def envelope(msg: Message) -> Envelope:
    sender = _addresses(msg, "From")
    return Envelope(
        date=_raw(msg, "Date"),
        subject=_raw(msg, "Subject"),
        from_=sender,
        # RFC 3501 7.4.2: sender and reply-to default to from.
        sender=_addresses(msg, "Sender") or sender,
        reply_to=_addresses(msg, "Reply-To") or sender,
        to=_addresses(msg, "To"),
        cc=_addresses(msg, "Cc"),
        bcc=_addresses(msg, "Bcc"),
        in_reply_to=_raw(msg, "In-Reply-To"),
        message_id=_raw(msg, "Message-ID"),
    )


def _parse(data: bytes, start: int, end: int, default_type: str, depth: int, is_message: bool) -> Part:
    header, body_start = headerlib.split(data, start, end)
    try:
        msg = headerlib.parse(header)
    except Exception:
        msg = Message()
    if default_type != "text/plain":
        msg.set_default_type(default_type)
    try:
        ctype = msg.get_content_type()
    except Exception:
        ctype = "text/plain"
    media_type, _, subtype = ctype.partition("/")
    try:
        disposition = msg.get_content_disposition() or ""
    except Exception:
        disposition = ""
    part = Part(
        header_start=start,
        body_start=body_start,
        end=end,
        media_type=media_type,
        subtype=subtype,
        params=_params(msg, "content-type"),
        content_id=_raw(msg, "Content-ID"),
        description=_raw(msg, "Content-Description"),
        encoding=(_raw(msg, "Content-Transfer-Encoding") or "7BIT").upper(),
        md5=_raw(msg, "Content-MD5"),
        disposition=disposition.lower(),
        disposition_params=_params(msg, "content-disposition") if disposition else [],
        language=_raw(msg, "Content-Language"),
        location=_raw(msg, "Content-Location"),
        envelope=envelope(msg) if is_message else None,
    )
    if depth < MAX_DEPTH:  # deeper parts are opaque leaves
        if media_type == "multipart":
            boundary = dict(part.params).get("boundary", "")
            child_type = "message/rfc822" if subtype == "digest" else "text/plain"
            if boundary:
                part.parts = [_parse(data, s, e, child_type, depth + 1, False)
                              for s, e in _part_ranges(data, body_start, end, boundary.encode("utf-8", "replace"))]
            if not part.parts:
                # RFC 3501 grammar needs at least one part; show an unusable multipart as text.
                part.media_type, part.subtype, part.params = "text", "plain", []
        elif media_type == "message" and subtype in ("rfc822", "global"):
            part.message = _parse(data, body_start, end, "text/plain", depth + 1, True)
    if part.media_type in ("text", "message") and not part.multipart:
        part.lines = data.count(b"\n", body_start, end)
        if end > body_start and data[end - 1] != 0x0A:
            part.lines += 1  # a last line without line break still counts
    return part


def _part_ranges(data: bytes, start: int, end: int, boundary: bytes) -> list[tuple[int, int]]:
    """(start, end) of each body part between delimiter lines (RFC 2046 5.1.1).

    The line break before a delimiter belongs to the delimiter, not to the
    part. Preamble and epilogue are skipped. Without a close delimiter the
    last part runs to the end.
    """
    delimiter = b"--" + boundary
    ranges = []
    part_start = None
    pos = start
    while True:
        i = data.find(delimiter, pos, end)
        if i < 0:
            break
        pos = i + 1
        if i != start and data[i - 1] != 0x0A:  # not at the start of a line
            continue
        after = i + len(delimiter)
        close = data.startswith(b"--", after, end)
        rest = after + 2 if close else after
        eol = data.find(b"\n", rest, end)
        line_end = end if eol < 0 else eol + 1
        if data[rest:line_end].strip(b" \t\r\n"):
            continue  # a longer word that starts like the boundary
        if part_start is not None:
            part_end = i
            if part_end > part_start and data[part_end - 1] == 0x0A:
                part_end -= 1
                if part_end > part_start and data[part_end - 1] == 0x0D:
                    part_end -= 1
            ranges.append((part_start, part_end))
        if close:
            return ranges
        part_start = line_end
        pos = line_end
    if part_start is not None and part_start < end:
        ranges.append((part_start, end))
    return ranges


def find(root: Part, path: list[int]) -> Part | None:
    """The part at a 1-based IMAP section path (RFC 3501 6.4.5), or None.

    A message/rfc822 part's sub-parts are those of the message it holds; the
    single part of a non-multipart message (or encapsulated message) is 1.
    """
    part = root
    for depth, number in enumerate(path):
        container = part.message if depth > 0 and part.message is not None else part
        if container.parts:
            if not 1 <= number <= len(container.parts):
                return None
            part = container.parts[number - 1]
        elif number == 1:
            part = container
        else:
            return None
    return part

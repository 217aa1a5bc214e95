"""Reading stored messages: header summary, envelope, MIME structure, part
bodies and the readable text and HTML parts, following mox's rules.

All functions are tolerant: a malformed header or part yields empty values,
never an exception, because stored mail is whatever the internet sent.
"""

from __future__ import annotations

import binascii
import email.utils
import re
from datetime import datetime, timezone
from email import errors as email_errors
from email import policy
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesParser
from typing import Any

from . import headers as headerlib
from . import part as partlib

# Text and HTML returned by MessageGet and incoming webhooks are cut at this size.
READABLE_LIMIT = 1024 * 1024

# The compat32 policy keeps header values as strings and decodes them only
# when asked; it parses ten times faster than policy.default, whose header
# objects are not needed to read a message.
_parser = BytesParser(policy=policy.compat32)


def parse(data: bytes) -> Message:
    return _parser.parsebytes(data)


def parse_headers(data: bytes) -> Message:
    """The header fields of a whole message (its body is not read)."""
    return headerlib.parse(headerlib.split(data)[0])


def clean(text: str) -> str:
    """Text from a header with raw 8-bit bytes (RFC 6532 allows UTF-8) as proper Unicode.

    The email package keeps undecodable header bytes as surrogate escapes;
    they are UTF-8 in practice, and anything else becomes U+FFFD.
    """
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def raw_header(msg: Message, name: str) -> str | None:
    """The first value of a header as Unicode, unfolded, encoded words left as they are."""
    lower = name.lower()
    for key, value in msg.raw_items():
        if key.lower() == lower:
            return " ".join(clean(str(value)).split())
    return None


def decode_words(text: str) -> str:
    """RFC 2047 encoded words decoded."""
    if "=?" not in text:
        return text
    try:
        return str(make_header(decode_header(text)))
    except (ValueError, LookupError, UnicodeError, AssertionError, email_errors.MessageError):
        return text  # e.g. an unknown or malformed charset name: shown as sent


def header_str(msg: Message, name: str) -> str:
    value = raw_header(msg, name)
    return "" if value is None else decode_words(value).strip()


def addresses(msg: Message, name: str) -> list[tuple[str, str]]:
    """(display name, address) pairs of an address header; empty on errors."""
    lower = name.lower()
    values = [" ".join(clean(str(v)).split()) for k, v in msg.raw_items() if k.lower() == lower]
    result = []
    try:
        for display, address in email.utils.getaddresses(values):
            if "@" in address:
                result.append((decode_words(display), address))
    except Exception:
        return []
    return result


def date(msg: Message) -> datetime | None:
    value = raw_header(msg, "Date")
    if not value:
        return None
    try:
        dt = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if dt is not None and dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt


def summary(data: bytes, headers: Message | None = None) -> dict[str, Any]:
    """The header fields the store keeps in its index."""
    msg = headers if headers is not None else parse_headers(data)
    froms = addresses(msg, "From")
    sent = date(msg)
    return {
        "subject": header_str(msg, "Subject"),
        "message_id": header_str(msg, "Message-ID"),
        "msg_from": froms[0][1] if froms else "",
        "date": sent.timestamp() if sent else None,
    }


def content_type(part: Message) -> str:
    return part.get_content_type().lower()


def _is_attachment(part: Message) -> bool:
    try:
        return (part.get_content_disposition() or "") == "attachment"
    except Exception:
        return False


def decoded_payload(part: Message) -> bytes:
    """The part's body with its transfer encoding undone."""
    if part.is_multipart():
        return b""
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if payload is None:
        raw = part.get_payload()
        payload = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""
    return payload


def _text(part: Message, limit: int) -> str:
    data = decoded_payload(part)[:limit]
    charset = part.get_content_charset() or "us-ascii"
    try:
        text = data.decode(charset, "replace")
    except LookupError:
        text = data.decode("utf-8", "replace")
    return text.replace("\r\n", "\n")


def readable_parts(msg: Message, limit: int = READABLE_LIMIT) -> tuple[str, str]:
    """The first text/plain and text/html parts, decoded, as mox picks them."""
    text, html, _ = _readable(msg, limit)
    return text, html


def _readable(part: Message, limit: int) -> tuple[str, str, bool]:
    ctype = content_type(part)
    if ctype == "text/plain":
        return _text(part, limit), "", True
    if ctype == "text/html":
        return "", _text(part, limit), True
    if not part.is_multipart():
        return "", "", False
    subparts = part.get_payload()
    alternative = ctype == "multipart/alternative"
    text = html = ""
    found = False
    for sub in subparts:
        sub_type = content_type(sub)
        if sub_type not in ("text/plain", "text/html") or _is_attachment(sub):
            continue
        found = True
        if sub_type == "text/plain":
            text = _text(sub, limit)
        else:
            html = _text(sub, limit)
        if not alternative:
            break
    if found:
        return text, html, True
    for sub in subparts:
        text, html, found = _readable(sub, limit)
        if found:
            return text, html, True
    return "", "", False


def subparts(part: Message) -> list[Message]:
    if part.is_multipart():
        payload = part.get_payload()
        return payload if isinstance(payload, list) else []
    if content_type(part) == "message/rfc822" or part.get_content_maintype() == "message":
        payload = part.get_payload()
        if isinstance(payload, list):
            return payload
    return []


def structure(data: bytes, root: partlib.Part | None = None) -> dict[str, Any]:
    """The MIME tree as the webapi reports it (webhook.Structure in mox).

    Built from the byte-offset tree of message.part, as mox builds it from
    its own: only multipart parts have parts. A message/rfc822 part is a
    leaf whose body is the whole enclosed message, and message/delivery-status
    and message/disposition-notification are leaves of header-like fields
    (RFC 3464 2.1, RFC 8098 3.1), not nested messages.
    """
    return _structure(data, root if root is not None else partlib.parse(data))


def _structure(data: bytes, part: partlib.Part) -> dict[str, Any]:
    params = dict(part.params)
    filename = dict(part.disposition_params).get("filename") or params.get("name") or ""
    return {
        "ContentType": f"{part.media_type}/{part.subtype}".lower(),
        "ContentTypeParams": params,
        "ContentID": part.content_id,
        "ContentDisposition": part.disposition,
        "Filename": decode_words(filename),
        "DecodedSize": 0 if part.multipart else len(part_body(data, part)),
        "Parts": [_structure(data, child) for child in part.parts],
    }


_BARE_LF = re.compile(rb"(?<!\r)\n")


def part_body(data: bytes, part: partlib.Part) -> bytes:
    """A part's body as mox serves it: the bytes between its header and its end
    (for a multipart: its parts with their boundaries), the transfer encoding
    undone, and for text bare line feeds made CRLF."""
    body = transfer_decoded(data, part)
    if part.media_type == "text":
        body = _BARE_LF.sub(b"\r\n", body)
    return body


def transfer_decoded(data: bytes, part: partlib.Part) -> bytes:
    """A part's body with only its transfer encoding undone, line ends as they are."""
    return _undo_transfer_encoding(data[part.body_start:part.end], part.encoding)


def _undo_transfer_encoding(raw: bytes, encoding: str) -> bytes:
    # RFC 2045 6.1: 7bit, 8bit and binary are the identity; unknown encodings are left as they are.
    try:
        if encoding == "BASE64":
            try:
                return binascii.a2b_base64(raw)
            except binascii.Error:
                # A missing padding is common; decode what is there.
                clean = bytes(b for b in raw if b in _BASE64_ALPHABET)
                return binascii.a2b_base64(clean[: len(clean) // 4 * 4])
        if encoding == "QUOTED-PRINTABLE":
            return binascii.a2b_qp(raw)
    except (binascii.Error, ValueError):
        pass
    return raw


_BASE64_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def part_content_type(part: partlib.Part) -> str:
    """The Content-Type to serve a part's body with: its media type, with its
    charset, or for a multipart its boundary, so the body can be read."""
    params = dict(part.params)
    name = "boundary" if part.multipart else "charset"
    value = params.get(name, "")
    content_type = f"{part.media_type}/{part.subtype}".lower()
    if not value:
        return content_type
    if name == "charset":
        return f"{content_type}; charset={value.lower()}"
    quoted = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'{content_type}; boundary="{quoted}"'

"""Reading stored messages: header summary, envelope, MIME structure and
the readable text and HTML parts, following mox's rules.

All functions are tolerant: a malformed header or part yields empty values,
never an exception, because stored mail is whatever the internet sent.
"""

from __future__ import annotations

import email.utils
from datetime import datetime, timezone
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser, BytesParser
from typing import Any

# Text and HTML returned by MessageGet and incoming webhooks are cut at this size.
READABLE_LIMIT = 1024 * 1024

_parser = BytesParser(policy=policy.default)
_header_parser = BytesHeaderParser(policy=policy.default)


def parse(data: bytes) -> EmailMessage:
    return _parser.parsebytes(data)


def parse_headers(data: bytes) -> EmailMessage:
    end = data.find(b"\r\n\r\n")
    if end < 0:
        end = data.find(b"\n\n")
    return _header_parser.parsebytes(data if end < 0 else data[: end + 4])


def header_str(msg: Message, name: str) -> str:
    try:
        value = msg.get(name)
        return "" if value is None else _utf8(str(value).strip())
    except Exception:
        raw = msg.get_all(name, failobj=[None])[0] if hasattr(msg, "get_all") else None
        return "" if raw is None else str(raw)


def addresses(msg: Message, name: str) -> list[tuple[str, str]]:
    """(display name, address) pairs of an address header; empty on errors."""
    result = []
    try:
        values = msg.get_all(name) or []
        for value in values:
            for addr in getattr(value, "addresses", ()):
                if addr.username or addr.domain:
                    result.append((_utf8(addr.display_name or ""), _utf8(f"{addr.username}@{addr.domain}")))
    except Exception:
        return []
    return result


def _utf8(text: str) -> str:
    """Text with raw UTF-8 header bytes (RFC 6532), which the parser keeps as
    surrogate escapes in address headers, decoded."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def date(msg: Message) -> datetime | None:
    value = msg.get("Date")
    try:
        dt = getattr(value, "datetime", None)
        if dt is None and value is not None:
            dt = email.utils.parsedate_to_datetime(str(value))
    except Exception:
        return None
    if dt is not None and dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt


def summary(data: bytes) -> dict[str, Any]:
    """The header fields the store keeps in its index."""
    msg = parse_headers(data)
    froms = addresses(msg, "From")
    sent = date(msg)
    return {
        "subject": header_str(msg, "Subject"),
        "message_id": header_str(msg, "Message-ID"),
        "msg_from": froms[0][1] if froms else "",
        "date": sent.timestamp() if sent else None,
    }


def references(msg: Message) -> list[str]:
    """References, with In-Reply-To first when it is not listed (as mox does)."""
    refs: list[str] = []
    for value in msg.get_all("References") or []:
        refs.extend(str(value).replace("\t", " ").split())
    in_reply_to = header_str(msg, "In-Reply-To")
    if in_reply_to and in_reply_to not in refs:
        refs.insert(0, in_reply_to)
    return refs


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


def structure(part: Message) -> dict[str, Any]:
    """The MIME tree as the webapi reports it (webhook.Structure in mox)."""
    try:
        params = {k.lower(): str(v) for k, v in part.get_params(failobj=[], header="content-type")[1:]}
    except Exception:
        params = {}
    try:
        disposition = (part.get_content_disposition() or "").lower()
    except Exception:
        disposition = ""
    try:
        filename = part.get_filename() or ""
    except Exception:
        filename = ""
    children = subparts(part)
    return {
        "ContentType": content_type(part),
        "ContentTypeParams": params,
        "ContentID": header_str(part, "Content-ID"),
        "ContentDisposition": disposition,
        "Filename": filename,
        "DecodedSize": 0 if children or part.is_multipart() else len(decoded_payload(part)),
        "Parts": [structure(child) for child in children],
    }


def part_at(msg: Message, path: list[int]) -> Message | None:
    """The part at a PartPath: [] is the message itself, [0, 2] the third part of the first."""
    part = msg
    for index in path:
        children = subparts(part)
        if not 0 <= index < len(children):
            return None
        part = children[index]
    return part

"""BINARY (RFC 3516): FETCH of a part with its Content-Transfer-Encoding
undone, BINARY[section]<partial>, BINARY.PEEK and BINARY.SIZE.

A FETCH naming a BINARY item is split into its items here; the others are
read with the FETCH parser as usual (fetch.parse_items). Decoding is
binascii's (base64, quoted-printable); a part in an encoding we do not
know gets NO [UNKNOWN-CTE] (RFC 3516 4.3). Pure rendering: no sockets,
no store.
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass

from ..message import part as partlib
from . import syntax
from .fetch import FetchError, Section, Span, partial_span
from .fetch import parse_items as parse_fetch_items

# RFC 3516 4.1: "BINARY" ["." ("PEEK" / "SIZE")] "[" [section-part] "]" [partial], partial not with SIZE.
_ITEM = re.compile(rb"BINARY(\.PEEK|\.SIZE)?\[((?:[1-9][0-9]*)(?:\.[1-9][0-9]*)*)?\](?:<([0-9]+)\.([1-9][0-9]*)>)?\Z",
                   re.IGNORECASE)

# The encodings decoded; the identity ones are sent as they are.
_IDENTITY = {"", "7BIT", "8BIT", "BINARY"}


class UnknownEncoding(ValueError):
    """A part's Content-Transfer-Encoding is not one we can decode: NO [UNKNOWN-CTE] (RFC 3516 4.3)."""


@dataclass
class Binary(Section):
    """A BINARY[...] or BINARY.SIZE[...] item."""

    size_only: bool = False

    def label(self, origin: int | None) -> bytes:
        # RFC 9051 7.5.2 (msg-att-static): the response names the section without the partial's origin.
        name = b"BINARY.SIZE" if self.size_only else b"BINARY"
        return name + b"[" + ".".join(str(n) for n in self.path).encode() + b"]"

    def render(self, data: bytes, root: partlib.Part) -> bytes:
        value = decoded(data, root, self.path)
        if self.size_only:
            return self.label(None) + b" %d" % len(value)
        if self.partial is not None:
            origin, length = self.partial
            value = value[origin:origin + length]
        # RFC 3516 4.2: content with NUL goes in a literal8.
        return self.label(None) + b" " + (b"~" if b"\0" in value else b"") + syntax.literal(value)


    def span(self, root: partlib.Part | None, size: int) -> Span | None:
        # Only a value sent as stored is a slice of the message: an identity encoding's, or a multipart's.
        if self.size_only:
            return None
        if not self.path:
            if root is None or not (root.parts or root.message is not None):
                return None  # the header is sent without its Content-Transfer-Encoding
            found = Span(root.header_start, root.end, binary=True)
        else:
            part = partlib.find(root, self.path) if root is not None else None
            if part is None:
                found = Span(0, 0, binary=True)
            elif part.parts or part.message is not None or part.multipart or part.encoding.upper() not in _IDENTITY:
                return None  # an error, or a value to decode: rendered from the bytes
            else:
                found = Span(part.body_start, part.end, binary=True)
        return partial_span(found, self.partial)


def parse_items(line: bytes) -> list:
    """FETCH's items when some are BINARY ones: those parsed here, each other item with the FETCH parser
    (fetch.parse_items), in the order given."""
    tokens, pending = syntax.tokenize(line)
    if pending is not None:
        raise FetchError("no literals in fetch attributes")
    if len(tokens) == 1 and isinstance(tokens[0], list):
        tokens = tokens[0]
    items = []
    for token in tokens:
        if isinstance(token, list) or isinstance(token, syntax.String):
            raise FetchError("bad fetch attributes, expected items like FLAGS, UID, BINARY[1] or BODY.PEEK[HEADER]")
        if token[:6].upper() == b"BINARY":
            items.append(parse_item(bytes(token)))
        else:
            items += parse_fetch_items(bytes(token))
    if not items:
        raise FetchError("no fetch attributes")
    return items


def parse_item(word: bytes) -> Binary:
    m = _ITEM.match(word)
    if not m:
        raise FetchError("bad BINARY item, expected BINARY[part], BINARY.PEEK[part]<offset.length> "
                         "or BINARY.SIZE[part]")
    kind = (m.group(1) or b"").upper()
    if kind == b".SIZE" and m.group(3) is not None:
        raise FetchError("BINARY.SIZE takes no partial")
    path = [int(n) for n in m.group(2).split(b".")] if m.group(2) else []
    partial = (int(m.group(3)), int(m.group(4))) if m.group(3) is not None else None
    # BINARY.SIZE does not set \Seen (RFC 3516 4.1); spec marks the item as needing the MIME tree.
    return Binary(peek=kind != b"", path=path, spec="BINARY", partial=partial, name=b"BINARY",
                  size_only=kind == b".SIZE")


def decode(body: bytes, encoding: str) -> bytes:
    encoding = encoding.upper()
    if encoding in _IDENTITY:
        return body
    if encoding == "BASE64":
        try:
            return binascii.a2b_base64(body)  # skips line breaks and other characters not of base64
        except binascii.Error:
            # Broken padding: decode what is there, as mail readers do.
            text = bytes(c for c in body if c in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
            return binascii.a2b_base64(text[:len(text) - len(text) % 4])
    if encoding == "QUOTED-PRINTABLE":
        return binascii.a2b_qp(body)
    raise UnknownEncoding(encoding)


def decoded(data: bytes, root: partlib.Part, path: list[int]) -> bytes:
    """The content of a part with its transfer encoding undone; empty when there is no such part.

    With an empty path, the whole message: its header without Content-Transfer-Encoding, then its body,
    decoded when the message is a single part."""
    if not path:
        header = data[root.header_start:root.body_start]
        body = data[root.body_start:root.end]
        if root.parts or root.message is not None:
            return header + body
        return _without_cte(header) + decode(body, root.encoding)
    part = partlib.find(root, path)
    if part is None:
        return b""
    if part.parts or part.message is not None or part.multipart:
        # RFC 9051 6.4.5: BINARY only of a leaf part.
        raise FetchError("BINARY only of a single part, not of a multipart or message/rfc822 part")
    return decode(data[part.body_start:part.end], part.encoding)


def _without_cte(header: bytes) -> bytes:
    out = []
    skip = False
    for line in header.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t") and line.strip():
            if not skip:
                out.append(line)
            continue
        skip = line.split(b":", 1)[0].strip().lower() == b"content-transfer-encoding"
        if not skip:
            out.append(line)
    return b"".join(out)

"""Paging of MessageList and MessageSearch: page sizes, and the opaque
cursor, which holds the (received, id) position of a page's last message
so the next page starts after it (store.Account.summary_page)."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

import msgspec

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 1000
# A page number so far out that its offset would overflow SQLite's integers is simply past the end.
MAX_OFFSET = 1 << 62


class _Position(msgspec.Struct, array_like=True):
    received: float
    msg_id: Annotated[int, msgspec.Meta(ge=0, le=(1 << 63) - 1)]  # what SQLite's integers hold


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(_Position)


def encode_cursor(received: float, msg_id: int) -> str:
    return base64.urlsafe_b64encode(_encoder.encode(_Position(received, msg_id))).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, int]:
    """The position a cursor holds; ValueError when it is not one of ours."""
    try:
        position = _decoder.decode(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise ValueError("invalid cursor: use a NextCursor as returned") from None
    return position.received, position.msg_id

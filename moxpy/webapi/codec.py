"""JSON to and from the method types, the way Go's encoding/json does it.

Decoding: a field that is missing or null takes its zero value; an unknown
field or a value of the wrong type is an error (code "protocol"). Encoding:
every field is present, lists are [] and maps {}, never null.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from .errors import WebapiError

T = TypeVar("T")

_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()


def _drop_nulls(value: Any) -> Any:
    # Go leaves a field untouched (its zero value) when the JSON has null;
    # dropping null members lets each field's default apply.
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def decode(data: str | bytes, typ: type[T]) -> T:
    try:
        value = _decoder.decode(data)
    except msgspec.DecodeError as e:
        raise WebapiError("protocol", f"parsing request: {e}") from None
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise WebapiError("protocol", f"parsing request: expected a JSON object, got {type(value).__name__}")
    try:
        return msgspec.convert(_drop_nulls(value), typ)
    except msgspec.ValidationError as e:
        raise WebapiError("protocol", f"parsing request: {e}") from None


def encode(value: Any) -> bytes:
    return _encoder.encode(value) + b"\n"


def encode_pretty(value: Any) -> str:
    return msgspec.json.format(_encoder.encode(value), indent=4).decode()

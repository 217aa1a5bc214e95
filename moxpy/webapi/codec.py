"""JSON to and from the method types, the way Go's encoding/json does it.

Decoding, as mox's decoder (unknown fields disallowed): an object key sets
the field of that exact name, or failing that the field whose name matches
case-insensitively; a member that is null leaves its field at the zero
value, a null list element or map value is the element's zero value; an
unknown field, a value of the wrong type, or an integer outside the field's
Go type (int64) is an error (code "protocol"), and so is JSON nested
deeper than msgspec's decoder goes (about a thousand levels: no request
type is anywhere near that deep). Encoding: every field is present, lists
are [] and maps {}, never null.
"""

from __future__ import annotations

import functools
from typing import Any, TypeVar

import msgspec
import msgspec.inspect as mi

from .errors import WebapiError

T = TypeVar("T")

_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()

# Every integer field of a request is an int64 in mox.
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1

# Go folds ASCII letters to upper case and any other rune to the smallest of
# its simple case folding orbit; these three are the non-ASCII runes that
# end up as ASCII letters, so "ſubject" fills Subject in Go too.
_GO_FOLD = str.maketrans({**{c: c.upper() for c in "abcdefghijklmnopqrstuvwxyz"},
                          "\u212a": "K", "\u017f": "S", "\u0131": "I"})


def fold(name: str) -> str:
    return name.translate(_GO_FOLD)


class _Invalid(Exception):
    pass


TOO_DEEP = "parsing request: JSON nested too deeply"


def decode(data: str | bytes, typ: type[T]) -> T:
    """The request of type typ in data; WebapiError "protocol" when it is not one."""
    try:
        value = _decoder.decode(data)
    except msgspec.DecodeError as e:
        raise WebapiError("protocol", f"parsing request: {e}") from None
    except RecursionError:
        # msgspec stops at its nesting limit with RecursionError, not DecodeError.
        raise WebapiError("protocol", TOO_DEEP) from None
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise WebapiError("protocol", f"parsing request: expected a JSON object, got {type(value).__name__}")
    try:
        value = _prepare(value, _type_info(typ), typ.__name__)
    except _Invalid as e:
        raise WebapiError("protocol", f"parsing request: {e}") from None
    try:
        return msgspec.convert(value, typ)
    except msgspec.ValidationError as e:
        raise WebapiError("protocol", f"parsing request: {e}") from None


@functools.cache
def _type_info(typ: type) -> mi.Type:
    return mi.type_info(typ)


@functools.cache
def _fields(struct: type) -> tuple[dict[str, mi.Field], dict[str, mi.Field]]:
    """A struct's fields by JSON name, and by folded JSON name."""
    fields = {f.encode_name: f for f in _type_info(struct).fields}
    return fields, {fold(name): f for name, f in reversed(fields.items())}


def _unwrap(typ: mi.Type) -> mi.Type:
    while isinstance(typ, mi.Metadata):
        typ = typ.type
    return typ


def _prepare(value: Any, typ: mi.Type, where: str) -> Any:
    """The decoded JSON value with Go's rules applied, ready for msgspec.convert.

    Values of the wrong type are passed on as they are: msgspec rejects them.
    """
    typ = _unwrap(typ)
    if isinstance(typ, mi.UnionType):
        # Only optional values (a Go pointer) are unions here.
        others = [t for t in typ.types if not isinstance(t, mi.NoneType)]
        return _prepare(value, others[0], where) if len(others) == 1 else value
    if isinstance(typ, mi.StructType) and isinstance(value, dict):
        exact, folded = _fields(typ.cls)
        result = {}
        for key, member in value.items():
            field = exact.get(key) or folded.get(fold(key))
            if field is None:
                result[key] = member  # unknown: msgspec refuses it, also when null
            elif member is not None:
                result[field.encode_name] = _prepare(member, field.type, f"{where}.{field.encode_name}")
        return result
    if isinstance(typ, (mi.ListType, mi.VarTupleType)) and isinstance(value, list):
        return [_element(v, typ.item_type, where) for v in value]
    if isinstance(typ, mi.TupleType) and isinstance(value, list):
        # A Go array: missing elements are zero, extra ones are dropped.
        n = len(typ.item_types)
        value = value[:n] + [None] * (n - len(value))
        return [_element(v, t, where) for v, t in zip(value, typ.item_types)]
    if isinstance(typ, mi.DictType) and isinstance(value, dict):
        return {k: _element(v, typ.value_type, where) for k, v in value.items()}
    if isinstance(typ, mi.IntType) and isinstance(value, int) and not isinstance(value, bool):
        if not INT64_MIN <= value <= INT64_MAX:
            raise _Invalid(f"cannot unmarshal number {value} into Go struct field {where} of type int64")
    return value


def _element(value: Any, typ: mi.Type, where: str) -> Any:
    return _zero(typ) if value is None else _prepare(value, typ, where)


def _zero(typ: mi.Type) -> Any:
    """Go's zero value of a type, as JSON."""
    typ = _unwrap(typ)
    if isinstance(typ, mi.UnionType) and any(isinstance(t, mi.NoneType) for t in typ.types):
        return None
    if isinstance(typ, mi.StrType):
        return ""
    if isinstance(typ, mi.BoolType):
        return False
    if isinstance(typ, (mi.IntType, mi.FloatType)):
        return 0
    if isinstance(typ, (mi.ListType, mi.VarTupleType)):
        return []
    if isinstance(typ, mi.TupleType):
        return [_zero(t) for t in typ.item_types]
    if isinstance(typ, (mi.DictType, mi.StructType)):
        return {}
    return None


def encode(value: Any) -> bytes:
    return _encoder.encode(value) + b"\n"


def encode_pretty(value: Any) -> str:
    return msgspec.json.format(_encoder.encode(value), indent=4).decode()

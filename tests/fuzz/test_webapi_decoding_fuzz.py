"""The Go-style request decoder of every webapi method, fed arbitrary JSON
values and arbitrary text: it returns the request type or raises
WebapiError with code "protocol", and nothing else."""

import json

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from moxpy.webapi import codec
from moxpy.webapi.errors import WebapiError
from moxpy.webapi.types import METHODS, SendRequest

REQUEST_TYPES = sorted({m.request for m in METHODS.values()}, key=lambda t: t.__name__)


def field_names(typ, seen=None) -> set[str]:
    """Every JSON field name reachable from a struct type, so that generated
    objects get past the unknown-field check into nested values."""
    import msgspec.inspect as mi

    seen = set() if seen is None else seen
    names = set()

    def walk(t):
        while isinstance(t, mi.Metadata):
            t = t.type
        if isinstance(t, mi.StructType):
            if t.cls in seen:
                return
            seen.add(t.cls)
            for f in t.fields:
                names.add(f.encode_name)
                walk(f.type)
        for attr in ("types", "item_types"):
            for sub in getattr(t, attr, ()):
                walk(sub)
        for attr in ("item_type", "key_type", "value_type"):
            if hasattr(t, attr):
                walk(getattr(t, attr))

    walk(mi.type_info(typ))
    return names


NAMES = sorted(set().union(*(field_names(t) for t in REQUEST_TYPES)))

keys = st.one_of(
    st.sampled_from(NAMES),
    st.sampled_from(NAMES).map(str.lower),
    st.sampled_from(NAMES).map(lambda n: n.replace("s", "\u017f")),
    st.text(max_size=8),
)
scalars = st.one_of(
    st.none(), st.booleans(), st.text(max_size=20),
    st.integers(min_value=-(1 << 70), max_value=1 << 70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["2024-01-02T03:04:05Z", "2024-01-02T03:04:05", "eA==", "not a date"]),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=5)),
    max_leaves=12,
)
objects = st.dictionaries(keys, json_values, max_size=4)
request_types = st.sampled_from(REQUEST_TYPES)


def decode_only_protocol_errors(text, typ):
    try:
        result = codec.decode(text, typ)
    except WebapiError as e:
        assert e.code == "protocol", e.as_dict()
        assert e.message.startswith("parsing request: ")
        return
    assert isinstance(result, typ)
    # What was accepted encodes again.
    msgspec.json.encode(result)


@given(typ=request_types, value=objects)
def test_decoder_on_json_objects(typ, value):
    decode_only_protocol_errors(json.dumps(value), typ)


@given(typ=request_types, value=json_values)
def test_decoder_on_any_json_value(typ, value):
    decode_only_protocol_errors(json.dumps(value), typ)


@given(typ=request_types, text=st.text(max_size=200))
def test_decoder_on_any_text(typ, text):
    decode_only_protocol_errors(text, typ)


@given(data=st.binary(max_size=200))
def test_decoder_on_any_bytes(data):
    decode_only_protocol_errors(data, SendRequest)


@given(depth=st.integers(min_value=1, max_value=5000), opener=st.sampled_from(["[", '{"a":', '{"To":[']))
def test_decoder_on_deep_nesting(depth, opener):
    decode_only_protocol_errors(opener * depth, SendRequest)
    decode_only_protocol_errors('{"To":' + "[" * depth + "]" * depth + "}", SendRequest)

"""Avro single-object codec: every schema round-trips any record it accepts (hypothesis)."""

from __future__ import annotations

import io
import struct
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastavro import schemaless_writer
from hypothesis import given, settings
from hypothesis import strategies as st

from streams import canonical, codecs
from streams.errors import CodecError

SCHEMAS = sorted(codecs.schema_set().by_name)
EVENT_SCHEMAS = sorted(codecs.full_name(name) for name in canonical.EVENT_SCHEMAS.values())
MILLIS = st.integers(min_value=0, max_value=4_102_444_800_000)  # 1970 .. 2100


def strategy(schema: Any) -> st.SearchStrategy[Any]:
    """Values of an Avro (fastavro-parsed) schema, with logical types as Python values."""
    if isinstance(schema, list):
        return st.one_of(*(strategy(branch) for branch in schema))
    if isinstance(schema, str):
        return PRIMITIVES[schema]
    logical = schema.get("logicalType")
    if logical == "timestamp-millis":
        return MILLIS.map(lambda ms: datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms))
    if logical == "decimal":
        scale = schema["scale"]
        bound = 10 ** schema["precision"] - 1
        return st.integers(-bound, bound).map(lambda n: Decimal(n).scaleb(-scale))
    kind = schema["type"]
    if kind == "record":
        return st.fixed_dictionaries({f["name"]: strategy(f["type"]) for f in schema["fields"]})
    if kind == "map":
        return st.dictionaries(st.text(max_size=10), strategy(schema["values"]), max_size=3)
    if kind == "array":
        return st.lists(strategy(schema["items"]), max_size=3)
    return strategy(kind)


PRIMITIVES: dict[str, st.SearchStrategy[Any]] = {
    "null": st.none(),
    "boolean": st.booleans(),
    "int": st.integers(-(2**31), 2**31 - 1),
    "long": st.integers(-(2**63), 2**63 - 1),
    "double": st.floats(allow_nan=False),
    "string": st.text(),
}


@pytest.mark.parametrize("name", SCHEMAS)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_every_schema_round_trips(name: str, data: st.DataObject) -> None:
    record = data.draw(strategy(codecs.schema(name).parsed))

    encoded = codecs.encode(name, record)

    assert encoded[:2] == b"\xc3\x01"
    assert encoded[2:10] == codecs.schema(name).fingerprint
    assert codecs.decode(encoded) == (name, record)


@pytest.mark.parametrize("name", EVENT_SCHEMAS)
def test_event_schemas_carry_the_common_envelope(name: str) -> None:
    fields = {f["name"] for f in codecs.schema(name).parsed["fields"]}
    assert {
        "event_id",
        "message_key",
        "provider",
        "provider_message_id",
        "channel",
        "cascade_id",
        "cascade_step",
        "occurred_at",
        "received_at",
        "source",
    } <= fields


def test_the_fingerprint_is_the_avro_crc64_of_the_canonical_form() -> None:
    # the Avro specification's CRC-64-AVRO algorithm, written out again here, and the
    # little-endian byte order that single-object encoding puts on the wire
    empty = 0xC15D213AA4D7A795
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (empty & -(fp & 1))
        table.append(fp)
    expected = empty
    for byte in codecs.to_parsing_canonical_form(codecs.schema("SourceRef").parsed).encode():
        expected = (expected >> 8) ^ table[(expected ^ byte) & 0xFF]
    assert codecs.schema("SourceRef").fingerprint == struct.pack("<Q", expected)


def test_decode_refuses_bytes_without_the_marker() -> None:
    with pytest.raises(CodecError, match="marker C3 01 missing"):
        codecs.decode(b'{"json": true}')


def test_decode_names_an_unknown_fingerprint() -> None:
    with pytest.raises(CodecError, match="unknown writer schema fingerprint 0102030405060708"):
        codecs.decode(b"\xc3\x01\x01\x02\x03\x04\x05\x06\x07\x08\x00")


def test_decode_message_checks_the_schema_header() -> None:
    value = codecs.encode("SourceRef", {"topic": "t", "partition": 0, "offset": 1})
    with pytest.raises(CodecError, match="header schema='cbsp.MessageStatusEvent'"):
        codecs.decode_message(value, [("schema", b"cbsp.MessageStatusEvent")])


def test_encode_names_the_schema_a_record_does_not_fit() -> None:
    with pytest.raises(CodecError, match="cbsp.SourceRef"):
        codecs.encode("SourceRef", {"topic": "t", "partition": "zero", "offset": 1})


def test_a_plain_fastavro_reader_decodes_the_body() -> None:
    """Consumers without this package: skip the 10-byte header, read with the .avsc."""
    from fastavro import schemaless_reader
    from fastavro.schema import load_schema

    from schemas import schema_path

    record = {"topic": "t", "partition": 3, "offset": 42}
    value = codecs.encode("SourceRef", record)
    parsed = load_schema(str(schema_path("SourceRef")))
    assert schemaless_reader(io.BytesIO(value[10:]), parsed, None) == record
    buffer = io.BytesIO()
    schemaless_writer(buffer, parsed, record)
    assert value[10:] == buffer.getvalue()


def test_each_fingerprint_is_that_of_its_file_parsed_alone() -> None:
    """What a consumer computes from one .avsc (references inlined) is what the header carries."""
    from fastavro.schema import fingerprint, load_schema, to_parsing_canonical_form

    for path in sorted(codecs.schema_dir().glob("*.avsc")):
        alone = load_schema(str(path), named_schemas={})
        expected = fingerprint(to_parsing_canonical_form(alone), "CRC-64-AVRO")
        assert codecs.schema_set().by_name[alone["name"]].fingerprint.hex() == expected, path.name

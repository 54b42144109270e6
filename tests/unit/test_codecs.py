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
    with pytest.raises(CodecError, match=r"neither Avro single-object .* begins with 7b226a73"):
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


SOURCE = {"topic": "t", "partition": 3, "offset": 42}


def test_the_headers_name_the_writer_schema_and_its_fingerprint() -> None:
    headers = dict(codecs.headers_for("SourceRef"))

    assert headers["schema"] == b"cbsp.SourceRef"
    assert headers["schema-fingerprint"] == codecs.schema("SourceRef").fingerprint.hex().encode()
    assert len(headers["schema-fingerprint"]) == 16


def test_the_confluent_wire_format_frames_the_same_body_behind_the_registry_id() -> None:
    single = codecs.encode("SourceRef", SOURCE)
    wire = codecs.WireFormat({"cbsp.SourceRef": 258})

    framed = wire.frame("SourceRef", single)

    assert framed == b"\x00\x00\x00\x01\x02" + single[10:]
    assert dict(wire.headers("SourceRef"))["schema-id"] == b"258"
    assert codecs.SINGLE_OBJECT.frame("SourceRef", single) is single
    assert "schema-id" not in dict(codecs.SINGLE_OBJECT.headers("SourceRef"))


def test_a_confluent_value_decodes_with_the_registry_lookup_or_the_fingerprint_header() -> None:
    wire = codecs.WireFormat({"cbsp.SourceRef": 7})
    framed = wire.frame("SourceRef", codecs.encode("SourceRef", SOURCE))
    asked: list[int] = []

    def lookup(schema_id: int) -> codecs.LoadedSchema:
        asked.append(schema_id)
        return codecs.schema("SourceRef")

    assert codecs.decode(framed, None, lookup) == ("cbsp.SourceRef", SOURCE)
    assert asked == [7]
    assert codecs.decode_message(framed, wire.headers("SourceRef")) == SOURCE


def test_a_confluent_value_without_registry_or_fingerprint_header_says_what_to_set() -> None:
    framed = codecs.WireFormat({"cbsp.SourceRef": 7}).frame("SourceRef", codecs.encode("SourceRef", SOURCE))

    with pytest.raises(CodecError, match=r"schema id 7\) and no registry .* CBSP_SCHEMA_REGISTRY_URL"):
        codecs.decode(framed, {"schema": b"cbsp.SourceRef"})
    with pytest.raises(CodecError, match="is not 16 hex digits"):
        codecs.decode(framed, {"schema-fingerprint": b"nothex"})


def test_the_confluent_format_refuses_a_schema_it_has_no_id_for() -> None:
    """Never a silent fallback to single-object encoding on a public topic."""
    with pytest.raises(KeyError):
        codecs.WireFormat({"cbsp.SourceRef": 7}).frame("MessageState", b"\xc3\x01" + bytes(8))

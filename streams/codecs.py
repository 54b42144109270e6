"""Avro single-object encoding over fastavro, with the schemas loaded once from ``schemas/``.

Wire format (Avro specification, "Single-object encoding"): the marker ``C3 01``,
the 8-byte little-endian CRC-64-AVRO fingerprint of the writer schema's parsing
canonical form, then the Avro binary body. Any consumer with the ``.avsc`` files
can decode it without a registry; :func:`decode_message` is that consumer's helper
(it imports nothing but fastavro and the schema files).

With a schema registry (opt-in, :class:`WireFormat`), the public topics carry the Confluent wire
format instead: byte ``00``, the registry's schema id as 4 bytes big-endian, then the same body.
:func:`decode` reads both, told apart by the first byte.
"""

from __future__ import annotations

import copy
import functools
import io
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastavro import schemaless_reader, schemaless_writer
from fastavro.schema import fingerprint, load_schema, to_parsing_canonical_form

from schemas import NAMESPACE, schema_dir
from streams import avrowrite
from streams.errors import CodecError

MARKER = b"\xc3\x01"
HEADER_SIZE = len(MARKER) + 8
CONFLUENT_MAGIC = b"\x00"
CONFLUENT_HEADER_SIZE = len(CONFLUENT_MAGIC) + 4
CONTENT_TYPE = "application/vnd.apache.avro+binary"
FINGERPRINT_HEADER = "schema-fingerprint"  # the writer schema's CRC-64-AVRO fingerprint, 16 hex digits
SCHEMA_ID_HEADER = "schema-id"  # the registry's id of the writer schema (Confluent wire format only)


@dataclass(frozen=True)
class LoadedSchema:
    full_name: str
    parsed: Any
    fingerprint: bytes
    writer: avrowrite.Writer | None = None  # compiled (streams.avrowrite); None: fastavro writes


@dataclass(frozen=True)
class SchemaSet:
    by_name: Mapping[str, LoadedSchema]
    by_fingerprint: Mapping[bytes, LoadedSchema]


@functools.cache
def schema_set() -> SchemaSet:
    """Every ``.avsc`` of the package, parsed and fingerprinted once."""
    named: dict[str, Any] = {}
    by_name: dict[str, LoadedSchema] = {}
    for path in sorted(schema_dir().glob("*.avsc")):
        parsed = load_schema(str(path), named_schemas=named)
        canonical = to_parsing_canonical_form(parsed)
        loaded = LoadedSchema(
            full_name=parsed["name"],
            parsed=parsed,
            fingerprint=bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO")),
            writer=_compiled(parsed, named),
        )
        by_name[loaded.full_name] = loaded
    return SchemaSet(by_name, {s.fingerprint: s for s in by_name.values()})


def _compiled(parsed: Any, named: dict[str, Any]) -> avrowrite.Writer | None:
    try:
        return avrowrite.compile_writer(parsed, named)
    except avrowrite.Unsupported:
        return None


def full_name(name: str) -> str:
    return name if "." in name else f"{NAMESPACE}.{name}"


@functools.cache
def schema(name: str) -> LoadedSchema:
    try:
        return schema_set().by_name[full_name(name)]
    except KeyError:
        raise CodecError(f"no schema named {name!r} in {schema_dir()}") from None


def encode(name: str, record: Mapping[str, Any]) -> bytes:
    """Encode ``record`` with the schema ``name`` as an Avro single object."""
    loaded = schema(name)
    try:
        if loaded.writer is not None:
            out = bytearray(MARKER + loaded.fingerprint)
            loaded.writer(out, record)
            return bytes(out)
        buffer = io.BytesIO()
        buffer.write(MARKER + loaded.fingerprint)
        schemaless_writer(buffer, loaded.parsed, dict(record), strict_allow_default=True)
        return buffer.getvalue()
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise CodecError(f"record does not fit schema {loaded.full_name}: {exc}") from exc


# a registry schema id -> the writer schema (``streams.schemaregistry.SchemaRegistry.writer_schema``)
SchemaLookup = Callable[[int], LoadedSchema]


def decode(
    data: bytes, headers: Mapping[str, bytes] | None = None, lookup: SchemaLookup | None = None
) -> tuple[str, dict[str, Any]]:
    """Decode an Avro single object or a Confluent-framed value; returns (full schema name, record).

    A Confluent-framed value's writer schema is the registry's (``lookup``) or, without a registry,
    the shipped schema that its ``schema-fingerprint`` header names.
    """
    if data[:2] == MARKER and len(data) >= HEADER_SIZE:
        loaded = schema_set().by_fingerprint.get(data[2:HEADER_SIZE])
        if loaded is None:
            raise CodecError(f"unknown writer schema fingerprint {data[2:HEADER_SIZE].hex()}")
        body = data[HEADER_SIZE:]
    elif data[:1] == CONFLUENT_MAGIC and len(data) >= CONFLUENT_HEADER_SIZE:
        loaded = _confluent_writer(int.from_bytes(data[1:CONFLUENT_HEADER_SIZE], "big"), headers, lookup)
        body = data[CONFLUENT_HEADER_SIZE:]
    else:
        raise CodecError(
            "neither Avro single-object encoding (marker C3 01) nor the Confluent wire format "
            f"(byte 00 and a schema id): the value begins with {data[:4].hex() or 'nothing'}"
        )
    try:
        record = schemaless_reader(io.BytesIO(body), loaded.parsed, None)
    except (ValueError, EOFError, IndexError, TypeError) as exc:
        raise CodecError(f"body does not decode as {loaded.full_name}: {exc}") from exc
    return loaded.full_name, dict(record)


def _confluent_writer(
    schema_id: int, headers: Mapping[str, bytes] | None, lookup: SchemaLookup | None
) -> LoadedSchema:
    if lookup is not None:
        return lookup(schema_id)
    named = (headers or {}).get(FINGERPRINT_HEADER)
    loaded = None if named is None else schema_set().by_fingerprint.get(_fingerprint_bytes(named))
    if loaded is None:
        raise CodecError(
            f"a Confluent wire format value (schema id {schema_id}) and no registry to look the id up: "
            "set CBSP_SCHEMA_REGISTRY_URL (or keep the record's schema-fingerprint header, "
            "which names a shipped schema)"
        )
    return loaded


def _fingerprint_bytes(header: bytes) -> bytes:
    try:
        return bytes.fromhex(header.decode())
    except (UnicodeDecodeError, ValueError):
        raise CodecError(f"header {FINGERPRINT_HEADER}={header!r} is not 16 hex digits") from None


def field_defaults(name: str) -> dict[str, Any]:
    """The schema's default of every field that has one (fresh copies: safe to mutate)."""
    fields = schema(name).parsed["fields"]
    return {field["name"]: copy.deepcopy(field["default"]) for field in fields if "default" in field}


def headers_for(name: str) -> list[tuple[str, bytes]]:
    """The Kafka headers every Avro value carries (DESIGN.md, "Avro"), plus the writer schema's
    fingerprint: a reader holding several versions of the schema knows which one wrote it."""
    loaded = schema(name)
    return [
        ("content-type", CONTENT_TYPE.encode()),
        ("schema", loaded.full_name.encode()),
        (FINGERPRINT_HEADER, loaded.fingerprint.hex().encode()),
    ]


@dataclass(frozen=True)
class WireFormat:
    """How the Avro values of the public topics (``events.*.v1``, ``state.message.v1``) are framed.

    Without registry ids, Avro single-object encoding, as :func:`encode` writes it. With them
    (full schema name -> the registry's id, learnt at start by ``streams.schemaregistry``), the
    Confluent wire format: the same body behind byte 00 and the id, and a ``schema-id`` header.
    """

    registry_ids: Mapping[str, int] = field(default_factory=dict)
    # each schema's headers, made once (the batch path asks for them for every batch)
    _headers: dict[str, list[tuple[str, bytes]]] = field(default_factory=dict, init=False, compare=False)

    @property
    def confluent(self) -> bool:
        return bool(self.registry_ids)

    def frame(self, name: str, single_object: bytes) -> bytes:
        """The public form of a value :func:`encode` made with schema ``name``."""
        if not self.registry_ids:
            return single_object
        schema_id = self.registry_ids[full_name(name)]
        return CONFLUENT_MAGIC + schema_id.to_bytes(4, "big") + single_object[HEADER_SIZE:]

    def headers(self, name: str) -> list[tuple[str, bytes]]:
        headers = self._headers.get(name)
        if headers is None:
            headers = headers_for(name)
            if self.registry_ids:
                headers.append((SCHEMA_ID_HEADER, str(self.registry_ids[full_name(name)]).encode()))
            self._headers[name] = headers
        return headers


SINGLE_OBJECT = WireFormat()


def decode_message(
    value: bytes, headers: Iterable[tuple[str, bytes]] = (), lookup: SchemaLookup | None = None
) -> dict[str, Any]:
    """Consumer helper: a Kafka value (and its headers) in, the record as a dict out; either
    framing (``lookup``: the registry's schema by id, for the Confluent wire format).

    Checks the ``schema`` header, when present, against the writer schema in the value.
    """
    header_map = dict(headers)
    name, record = decode(value, header_map, lookup)
    declared = header_map.get("schema")
    if declared is not None and declared.decode() != name:
        raise CodecError(f"header schema={declared.decode()!r} but the value was written with {name}")
    return record

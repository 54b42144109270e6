"""Avro single-object encoding over fastavro, with the schemas loaded once from ``schemas/``.

Wire format (Avro specification, "Single-object encoding"): the marker ``C3 01``,
the 8-byte little-endian CRC-64-AVRO fingerprint of the writer schema's parsing
canonical form, then the Avro binary body. Any consumer with the ``.avsc`` files
can decode it without a registry; :func:`decode_message` is that consumer's helper
(it imports nothing but fastavro and the schema files).
"""

from __future__ import annotations

import copy
import functools
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fastavro import schemaless_reader, schemaless_writer
from fastavro.schema import fingerprint, load_schema, to_parsing_canonical_form

from schemas import NAMESPACE, schema_dir
from streams import avrowrite
from streams.errors import CodecError

MARKER = b"\xc3\x01"
HEADER_SIZE = len(MARKER) + 8
CONTENT_TYPE = "application/vnd.apache.avro+binary"


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


def decode(data: bytes) -> tuple[str, dict[str, Any]]:
    """Decode an Avro single object; returns (full schema name, record)."""
    if len(data) < HEADER_SIZE or data[:2] != MARKER:
        raise CodecError("not an Avro single-object encoding (marker C3 01 missing)")
    loaded = schema_set().by_fingerprint.get(data[2:HEADER_SIZE])
    if loaded is None:
        raise CodecError(f"unknown writer schema fingerprint {data[2:HEADER_SIZE].hex()}")
    try:
        record = schemaless_reader(io.BytesIO(data[HEADER_SIZE:]), loaded.parsed, None)
    except (ValueError, EOFError, IndexError, TypeError) as exc:
        raise CodecError(f"body does not decode as {loaded.full_name}: {exc}") from exc
    return loaded.full_name, dict(record)


def field_defaults(name: str) -> dict[str, Any]:
    """The schema's default of every field that has one (fresh copies: safe to mutate)."""
    fields = schema(name).parsed["fields"]
    return {field["name"]: copy.deepcopy(field["default"]) for field in fields if "default" in field}


def headers_for(name: str) -> list[tuple[str, bytes]]:
    """The Kafka headers every Avro value carries (DESIGN.md, "Avro")."""
    return [("content-type", CONTENT_TYPE.encode()), ("schema", full_name(name).encode())]


def decode_message(value: bytes, headers: Iterable[tuple[str, bytes]] = ()) -> dict[str, Any]:
    """Consumer helper: a Kafka value (and its headers) in, the record as a dict out.

    Checks the ``schema`` header, when present, against the writer schema in the value.
    """
    name, record = decode(value)
    declared = dict(headers).get("schema")
    if declared is not None and declared.decode() != name:
        raise CodecError(f"header schema={declared.decode()!r} but the value was written with {name}")
    return record

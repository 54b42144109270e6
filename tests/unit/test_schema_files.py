"""The schemas as other services take them: self-contained (a registry's form) with the shipped
fingerprints, in an order a one-pass parser reads, and bundled into one union schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastavro.schema import fingerprint, parse_schema, to_parsing_canonical_form

import schemas
from cbsp import schemafiles
from streams import codecs

NAMES = sorted(codecs.schema_set().by_name)
PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}


@pytest.mark.parametrize("name", NAMES)
def test_a_self_contained_schema_parses_alone_with_the_shipped_fingerprint(name: str) -> None:
    alone = schemas.self_contained(name)

    parsed = parse_schema(json.loads(json.dumps(alone)), named_schemas={})

    digest = fingerprint(to_parsing_canonical_form(parsed), "CRC-64-AVRO")
    assert digest == codecs.schema(name).fingerprint.hex()


def test_a_self_contained_schema_defines_each_named_type_once() -> None:
    text = json.dumps(schemas.self_contained("cbsp.MessageState"))
    assert text.count('"name": "MessageStatePrice"') == 1
    assert text.count('"name": "MessageStateStatus"') == 1


def test_an_unknown_schema_is_named() -> None:
    with pytest.raises(KeyError, match="cbsp.Nope"):
        schemas.self_contained("cbsp.Nope")


def defined_and_used(schema: Any, namespace: str = "cbsp") -> tuple[set[str], set[str]]:
    """(named types a schema defines, named types it refers to by name)."""
    if isinstance(schema, str):
        return set(), set() if schema in PRIMITIVES else {
            schema if "." in schema else f"{namespace}.{schema}"
        }
    if isinstance(schema, list):
        pairs = [defined_and_used(branch, namespace) for branch in schema]
        return set().union(*(d for d, _ in pairs)), set().union(*(u for _, u in pairs))
    defined, used = set(), set()
    if schema.get("type") in ("record", "enum", "fixed"):
        namespace = schema.get("namespace", namespace)
        defined.add(f"{namespace}.{schema['name']}")
    parts = [f["type"] for f in schema.get("fields", ())] + [
        schema[k] for k in ("items", "values") if k in schema
    ]
    if isinstance(schema.get("type"), dict | list):
        parts.append(schema["type"])
    for part in parts:
        more_defined, more_used = defined_and_used(part, namespace)
        defined |= more_defined
        used |= more_used
    return defined, used


def test_the_dependency_order_defines_every_record_before_its_first_use() -> None:
    seen: set[str] = set()
    order = schemas.dependency_order()
    for path in order:
        defined, used = defined_and_used(json.loads(path.read_text()))
        assert used <= seen | defined, (
            f"{path.name} uses {sorted(used - seen - defined)} before they are defined"
        )
        seen |= defined
    assert sorted(order) == sorted(schemas.schema_dir().glob("*.avsc"))


def test_cbsp_schemas_writes_the_files_and_a_bundle_that_parses_in_one_call(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert schemafiles.main([str(tmp_path / "avsc")]) == 0
    printed = capsys.readouterr().out.split()
    assert [Path(p).name for p in printed] == [p.name for p in schemas.dependency_order()]

    assert schemafiles.main(["--bundle", str(tmp_path / "all.avsc")]) == 0
    union = parse_schema(json.loads((tmp_path / "all.avsc").read_text()), named_schemas={})
    assert sorted(branch["name"] for branch in union) == NAMES

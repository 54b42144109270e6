"""The Avro schemas of the public contract, shipped as package data.

Each ``.avsc`` file holds one record, named ``<namespace>.<Name>.avsc`` so that
``fastavro.schema.load_schema`` finds the records a schema refers to. Another
service can use these files without the rest of the package::

    from schemas import schema_dir
    fastavro.schema.load_schema(schema_dir() / "cbsp.MessageStatusEvent.avsc")
"""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path
from typing import Any

NAMESPACE = "cbsp"


def schema_dir() -> Path:
    """The folder that holds the ``.avsc`` files."""
    return Path(str(files(__name__)))


def schema_path(name: str) -> Path:
    """The file of the record ``name`` (short name such as ``MessageStatusEvent``)."""
    return schema_dir() / f"{NAMESPACE}.{name}.avsc"


def _load_all() -> dict[str, Any]:
    """Every ``.avsc`` file's JSON, by the record's full name."""
    schemas: dict[str, Any] = {}
    for path in schema_dir().glob("*.avsc"):
        record = json.loads(path.read_text(encoding="utf-8"))
        schemas[f"{record.get('namespace', NAMESPACE)}.{record['name']}"] = record
    return schemas


def self_contained(full_name: str) -> dict[str, Any]:
    """The record ``full_name`` (e.g. ``cbsp.MessageStatusEvent``) with every named type it uses
    defined inline at its first use, as the Avro specification has it: one JSON document that any
    Avro parser reads alone, and the form a schema registry is given. Same parsing canonical form,
    so same fingerprint, as the record loaded from the files."""
    known = _load_all()
    defined: set[str] = set()

    def inline(schema: Any, namespace: str) -> Any:
        if isinstance(schema, str):
            name = schema if "." in schema else f"{namespace}.{schema}"
            if name in known and name not in defined:
                return inline(known[name], NAMESPACE)
            return schema
        if isinstance(schema, list):
            return [inline(branch, namespace) for branch in schema]
        if not isinstance(schema, dict):
            return schema
        schema = dict(schema)
        kind = schema.get("type")
        if kind in ("record", "enum", "fixed"):
            namespace = schema.get("namespace", namespace)
            defined.add(f"{namespace}.{schema['name']}")
        if kind == "record":
            schema["fields"] = [{**f, "type": inline(f["type"], namespace)} for f in schema["fields"]]
        elif kind == "array":
            schema["items"] = inline(schema["items"], namespace)
        elif kind == "map":
            schema["values"] = inline(schema["values"], namespace)
        elif isinstance(kind, dict | list):
            schema["type"] = inline(kind, namespace)
        return schema

    if full_name not in known:
        raise KeyError(f"no schema named {full_name!r} in {schema_dir()}")
    return dict(inline(known[full_name], NAMESPACE))


def dependency_order() -> list[Path]:
    """The ``.avsc`` files, each after the files of the records it refers to: the order in which
    a parser that keeps its named types across files (Java's ``Schema.Parser``) reads them all."""
    known = _load_all()
    ordered: list[str] = []

    def visit(name: str) -> None:
        if name in ordered:
            return
        for used in sorted(_references(known[name]) & known.keys()):
            if used != name:
                visit(used)
        ordered.append(name)

    for name in sorted(known):
        visit(name)
    return [schema_dir() / f"{name}.avsc" for name in ordered]


def _references(schema: Any) -> set[str]:
    if isinstance(schema, str):
        return {schema if "." in schema else f"{NAMESPACE}.{schema}"}
    if isinstance(schema, list):
        return set().union(*(_references(branch) for branch in schema))
    if not isinstance(schema, dict):
        return set()
    found: set[str] = set()
    for field in schema.get("fields", ()):
        found |= _references(field["type"])
    for key in ("items", "values"):
        if key in schema:
            found |= _references(schema[key])
    if isinstance(schema.get("type"), dict | list):
        found |= _references(schema["type"])
    return found

"""One Avro schema file as Markdown: its doc, its wire fingerprint and a table of its fields.

The ``.avsc`` files are read as written (named types stay references), so a field of
type ``cbsp.SourceRef`` links to that record's own section instead of repeating it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from streams import codecs


def anchor(full_name: str) -> str:
    """The anchor GitHub gives the heading ``### <full_name>`` (dots dropped, lower case)."""
    return full_name.replace(".", "").lower()


def link(full_name: str) -> str:
    return f"[`{full_name}`](#{anchor(full_name)})"


def cell(text: str) -> str:
    """Text safe inside a Markdown table cell: no HTML tags, no column breaks."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")


def type_text(avro_type: Any, namespace: str) -> str:
    """A field type as a reader says it: ``string or null``, ``timestamp-millis (long)``, a link."""
    if isinstance(avro_type, list):
        return " or ".join(type_text(branch, namespace) for branch in avro_type)
    if isinstance(avro_type, str):
        if avro_type in PRIMITIVES:
            return avro_type
        return link(avro_type if "." in avro_type else f"{namespace}.{avro_type}")
    logical = avro_type.get("logicalType")
    if logical == "decimal":
        return f"decimal({avro_type['precision']}, {avro_type['scale']}) ({avro_type['type']})"
    if logical:
        return f"{logical} ({avro_type['type']})"
    kind = avro_type["type"]
    if kind == "array":
        return f"array of {type_text(avro_type['items'], namespace)}"
    if kind == "map":
        return f"map of {type_text(avro_type['values'], namespace)}"
    if kind == "enum":
        return "enum: " + ", ".join(avro_type["symbols"])
    if kind in ("record", "fixed"):
        return link(f"{avro_type.get('namespace', namespace)}.{avro_type['name']}")
    return str(kind)


PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})


def default_text(field: dict[str, Any]) -> str:
    return f"`{json.dumps(field['default'])}`" if "default" in field else "required"


def render_schema(path: Path) -> str:
    written = json.loads(path.read_text())
    namespace = written.get("namespace", "")
    full_name = f"{namespace}.{written['name']}" if namespace else written["name"]
    fingerprint = codecs.schema_set().by_name[full_name].fingerprint.hex()
    lines = [
        f"### {full_name}",
        "",
        cell(written.get("doc", "")) or "(no description)",
        "",
        f"File `schemas/{path.name}`; fingerprint (the 8 bytes after `C3 01`): `{fingerprint}`.",
        "",
        "| field | type | default | meaning |",
        "|---|---|---|---|",
    ]
    for field in written["fields"]:
        lines.append(
            f"| `{field['name']}` | {type_text(field['type'], namespace)} | {default_text(field)} "
            f"| {cell(field.get('doc', ''))} |"
        )
    return "\n".join(lines) + "\n"

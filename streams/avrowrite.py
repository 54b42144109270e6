"""Avro binary encoding by writers compiled once per schema: the worker's hot path.

fastavro's ``schemaless_writer`` took 23-30 us per record here, most of the worker's encoding
time (docs/architecture.md, "The batch path"), because it interprets the schema anew for every
record. :func:`compile_writer` walks the schema once and returns a function that writes a record
straight into a ``bytearray``: the same bytes as fastavro (``tests/unit/test_avrowrite.py``
compares them on every record the benchmark's input makes), for the subset of Avro the
project's schemas use: null, boolean, int, long, float, double, string, bytes, record, array,
map, unions, and the ``timestamp-millis`` and ``decimal`` (on bytes) logical types. A schema
with anything else raises :class:`Unsupported`, and ``streams.codecs`` keeps fastavro for it.

A record that does not fit raises ``ValueError``, ``TypeError`` or ``KeyError`` naming the
field, as fastavro would refuse it (``streams.codecs`` turns them into ``CodecError``).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

Writer = Callable[[bytearray, Any], None]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MILLISECOND = timedelta(milliseconds=1)
MISSING = object()
INT_RANGE = (-(2**31), 2**31 - 1)
LONG_RANGE = (-(2**63), 2**63 - 1)


class Unsupported(Exception):
    """The schema uses something these writers do not do."""


def compile_writer(schema: Any, named: Mapping[str, Any]) -> Writer:
    """The writer of ``schema`` (fastavro's parsed form; ``named``: its named schemas).

    A record's writer is generated as Python source, one statement per field with the common
    cases (strings, ints, times, nullable fields) inlined: a call per record instead of several
    per field. Everything else goes through the small writers below.
    """
    if isinstance(schema, Mapping) and schema.get("type") == "record":
        return _Generator(named).record_writer(schema)
    return _writer(schema, named)


def write_long(out: bytearray, value: int) -> None:
    """Zig-zag, then base-128 little-endian groups (the Avro ``long``/``int`` encoding)."""
    n = (value << 1) ^ (value >> 63)
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _writer(schema: Any, named: Mapping[str, Any]) -> Writer:
    if isinstance(schema, str):
        if schema in PRIMITIVES:
            return PRIMITIVES[schema]
        if schema in named:
            return _writer(named[schema], named)
        raise Unsupported(f"unknown type {schema!r}")
    if isinstance(schema, list):
        return _union(schema, named)
    kind = schema["type"]
    logical = schema.get("logicalType")
    if logical == "timestamp-millis" and kind == "long":
        return _timestamp_millis
    if logical == "decimal" and kind == "bytes":
        return _decimal(schema["precision"], schema.get("scale", 0))
    if logical is not None:
        raise Unsupported(f"logical type {logical!r} on {kind!r}")
    if kind == "record":
        return _record(schema, named)
    if kind == "array":
        return _array(_writer(schema["items"], named))
    if kind == "map":
        return _map(_writer(schema["values"], named))
    if kind in PRIMITIVES:
        return PRIMITIVES[kind]
    raise Unsupported(f"type {kind!r}")


def _null(out: bytearray, value: Any) -> None:
    if value is not None:
        raise TypeError(f"{value!r} is not null")


def _boolean(out: bytearray, value: Any) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{value!r} is not a boolean")
    out.append(1 if value else 0)


def _ranged(low: int, high: int, name: str) -> Writer:
    def write(out: bytearray, value: Any) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ValueError(f"{value!r} is not an Avro {name}")
        write_long(out, value)

    return write


def _float(out: bytearray, value: Any) -> None:
    out += struct.pack("<f", value)


def _double(out: bytearray, value: Any) -> None:
    out += struct.pack("<d", value)


def _string(out: bytearray, value: Any) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{value!r} is not a string")
    data = value.encode()
    write_long(out, len(data))
    out += data


def _bytes(out: bytearray, value: Any) -> None:
    if not isinstance(value, bytes | bytearray):
        raise TypeError(f"{value!r} is not bytes")
    write_long(out, len(value))
    out += value


PRIMITIVES: dict[str, Writer] = {
    "null": _null,
    "boolean": _boolean,
    "int": _ranged(*INT_RANGE, "int"),
    "long": _ranged(*LONG_RANGE, "long"),
    "float": _float,
    "double": _double,
    "string": _string,
    "bytes": _bytes,
}


def _timestamp_millis(out: bytearray, value: Any) -> None:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"{value!r} has no time zone")
        write_long(out, (value - EPOCH) // MILLISECOND)
    elif isinstance(value, int) and not isinstance(value, bool):
        write_long(out, value)
    else:
        raise TypeError(f"{value!r} is not a timestamp")


def _decimal(precision: int, scale: int) -> Writer:
    def write(out: bytearray, value: Any) -> None:
        if not isinstance(value, Decimal):
            raise TypeError(f"{value!r} is not a Decimal")
        sign, digits, exponent = value.as_tuple()
        if not isinstance(exponent, int):
            raise ValueError(f"{value!r} is not a finite decimal")
        if -exponent > scale:
            raise ValueError(f"{value} has more than {scale} decimal places")
        unscaled = int("".join(map(str, digits)) or "0") * 10 ** (scale + exponent)
        if len(str(unscaled)) > precision:
            raise ValueError(f"{value} has more than {precision} digits")
        unscaled = -unscaled if sign else unscaled
        size = (unscaled.bit_length() + 8) // 8  # room for the sign bit
        data = unscaled.to_bytes(size, "big", signed=True)
        write_long(out, len(data))
        out += data

    return write


def _record(schema: Mapping[str, Any], named: Mapping[str, Any]) -> Writer:
    fields = [
        (field["name"], _writer(field["type"], named), field.get("default", MISSING))
        for field in schema["fields"]
    ]
    record_name = schema.get("name", "record")

    def write(out: bytearray, value: Any) -> None:
        if not isinstance(value, Mapping):
            raise TypeError(f"{record_name}: {value!r} is not a record")
        for name, write_field, default in fields:
            item = value.get(name, default)
            if item is MISSING:
                raise KeyError(f"{record_name}.{name} is missing")
            try:
                write_field(out, item)
            except (TypeError, ValueError, KeyError) as exc:
                raise type(exc)(f"{record_name}.{name}: {exc}") from None

    return write


def _array(write_item: Writer) -> Writer:
    def write(out: bytearray, value: Any) -> None:
        if not isinstance(value, list | tuple):
            raise TypeError(f"{value!r} is not an array")
        if value:
            write_long(out, len(value))
            for item in value:
                write_item(out, item)
        out.append(0)

    return write


def _map(write_value: Writer) -> Writer:
    def write(out: bytearray, value: Any) -> None:
        if not isinstance(value, Mapping):
            raise TypeError(f"{value!r} is not a map")
        if value:
            write_long(out, len(value))
            for key, item in value.items():
                _string(out, key)
                write_value(out, item)
        out.append(0)

    return write


def _matcher(schema: Any, named: Mapping[str, Any]) -> Callable[[Any], bool]:
    """Whether a value belongs to this branch of a union (fastavro's first-match order)."""
    if isinstance(schema, str) and schema in named:
        schema = named[schema]
    kind = schema if isinstance(schema, str) else schema["type"]
    logical = None if isinstance(schema, str) else schema.get("logicalType")
    if logical == "timestamp-millis":
        return lambda v: isinstance(v, datetime) or (isinstance(v, int) and not isinstance(v, bool))
    if logical == "decimal":
        return lambda v: isinstance(v, Decimal)
    matchers: dict[str, Callable[[Any], bool]] = {
        "null": lambda v: v is None,
        "boolean": lambda v: isinstance(v, bool),
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "long": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "float": lambda v: isinstance(v, float | int) and not isinstance(v, bool),
        "double": lambda v: isinstance(v, float | int) and not isinstance(v, bool),
        "string": lambda v: isinstance(v, str),
        "bytes": lambda v: isinstance(v, bytes | bytearray),
        "record": lambda v: isinstance(v, Mapping),
        "map": lambda v: isinstance(v, Mapping),
        "array": lambda v: isinstance(v, list | tuple),
    }
    if kind not in matchers:
        raise Unsupported(f"union branch {kind!r}")
    return matchers[kind]


def _union(branches: list[Any], named: Mapping[str, Any]) -> Writer:
    kinds = [
        (index, _matcher(branch, named), _writer(branch, named)) for index, branch in enumerate(branches)
    ]
    records = sum(
        1
        for b in branches
        if (named.get(b, b) if isinstance(b, str) else b) is not None and _is_record(b, named)
    )
    if records > 1:
        raise Unsupported("a union of several records (the branch would be chosen by its fields)")

    def write(out: bytearray, value: Any) -> None:
        for index, matches, write_branch in kinds:
            if matches(value):
                write_long(out, index)
                write_branch(out, value)
                return
        raise ValueError(f"{value!r} fits no branch of {branches}")

    return write


def _is_record(branch: Any, named: Mapping[str, Any]) -> bool:
    schema = named.get(branch, branch) if isinstance(branch, str) else branch
    return isinstance(schema, Mapping) and schema.get("type") == "record"


class _Generator:
    """Writes the source of a record writer; ``helpers`` are the functions it calls."""

    def __init__(self, named: Mapping[str, Any]) -> None:
        self.named = named
        self.lines: list[str] = []
        self.helpers: dict[str, Any] = {
            "write_long": write_long,
            "datetime": datetime,
            "EPOCH": EPOCH,
            "MILLISECOND": MILLISECOND,
            "MISSING": MISSING,
            "Mapping": Mapping,
        }
        self.count = 0

    def record_writer(self, schema: Mapping[str, Any]) -> Writer:
        self.lines = ["def write(out, value):", "    field = ''", "    try:"]
        self._record(schema, "value", 2, "")
        self.lines += [
            "    except (TypeError, ValueError, KeyError, AttributeError) as exc:",
            f"        raise type(exc)(f'{schema.get('name', 'record')}.{{field}}: {{exc}}') from None",
        ]
        namespace = dict(self.helpers)
        exec("\n".join(self.lines), namespace)  # noqa: S102  (source made here from the schema alone)
        return namespace["write"]  # type: ignore[no-any-return]

    def _name(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def _helper(self, function: Any) -> str:
        name = self._name("helper")
        self.helpers[name] = function
        return name

    def _emit(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)

    def _resolve(self, schema: Any) -> Any:
        return self.named[schema] if isinstance(schema, str) and schema in self.named else schema

    def _record(self, schema: Mapping[str, Any], var: str, indent: int, path: str) -> None:
        self._emit(
            indent, f"if not isinstance({var}, Mapping): raise TypeError(f'{{{var}!r}} is not a record')"
        )
        for field in schema["fields"]:
            item = self._name("v")
            default = field.get("default", MISSING)
            self._emit(indent, f"field = {path + field['name']!r}")
            if default is MISSING:
                self._emit(indent, f"{item} = {var}[{field['name']!r}]")
            else:
                self._emit(indent, f"{item} = {var}.get({field['name']!r}, {self._helper(default)})")
            self._value(field["type"], item, indent, f"{path}{field['name']}.")

    def _value(self, schema: Any, var: str, indent: int, path: str) -> None:
        schema = self._resolve(schema)
        if isinstance(schema, list):
            self._union(schema, var, indent, path)
            return
        kind = schema if isinstance(schema, str) else schema["type"]
        logical = None if isinstance(schema, str) else schema.get("logicalType")
        if kind == "string" and logical is None:
            data = self._name("b")
            self._emit(
                indent, f"if {var}.__class__ is not str: raise TypeError(f'{{{var}!r}} is not a string')"
            )
            self._emit(indent, f"{data} = {var}.encode()")
            self._long(f"len({data})", indent)
            self._emit(indent, f"out += {data}")
        elif kind in ("int", "long") and logical is None:
            low, high = INT_RANGE if kind == "int" else LONG_RANGE
            self._emit(
                indent, f"if {var}.__class__ is not int: raise TypeError(f'{{{var}!r}} is not an {kind}')"
            )
            self._emit(
                indent, f"if not {low} <= {var} <= {high}: raise ValueError(f'{{{var}}} is out of range')"
            )
            self._long(var, indent)
        elif kind == "long" and logical == "timestamp-millis":
            self._emit(indent, f"if {var}.__class__ is datetime:")
            self._emit(
                indent + 1, f"if {var}.tzinfo is None: raise ValueError(f'{{{var}!r}} has no time zone')"
            )
            self._emit(indent + 1, f"{var} = ({var} - EPOCH) // MILLISECOND")
            self._emit(
                indent, f"elif {var}.__class__ is not int: raise TypeError(f'{{{var}!r}} is not a timestamp')"
            )
            self._long(var, indent)
        elif kind == "record":
            self._record(schema, var, indent, path)
        else:
            self._emit(indent, f"{self._helper(_writer(schema, self.named))}(out, {var})")

    def _long(self, expression: str, indent: int) -> None:
        """Inline the one-byte case of the zig-zag varint (lengths and small numbers)."""
        number = self._name("n")
        self._emit(indent, f"{number} = {expression}")
        self._emit(indent, f"if 0 <= {number} < 64: out.append({number} << 1)")
        self._emit(indent, f"else: write_long(out, {number})")

    def _union(self, branches: list[Any], var: str, indent: int, path: str) -> None:
        if len(branches) == 2 and branches[0] == "null" and branches[1] != "null":  # the usual: optional
            self._emit(indent, f"if {var} is None: out.append(0)")
            self._emit(indent, "else:")
            self._emit(indent + 1, "out.append(2)")
            self._value(branches[1], var, indent + 1, path)
            return
        resolved = [self._resolve(branch) for branch in branches]
        if sum(1 for b in resolved if isinstance(b, Mapping) and b.get("type") == "record") > 1:
            raise Unsupported("a union of several records (the branch would be chosen by its fields)")
        keyword = "if"
        for index, branch in enumerate(branches):
            matches = self._helper(_matcher(branch, self.named))
            self._emit(indent, f"{keyword} {matches}({var}):")
            self._emit(indent + 1, f"out.append({index << 1})")
            if self._resolve(branch) != "null":
                self._value(branch, var, indent + 1, path)
            keyword = "elif"
        described = self._helper(repr(branches))
        self._emit(indent, f"else: raise ValueError(f'{{{var}!r}} fits no branch of {{{described}}}')")

"""Reading provider payload fields, with errors that name the field path."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from streams.errors import NormalizeError

# Unix times above this are milliseconds, not seconds (the year 5138 in seconds).
MILLIS_THRESHOLD = 100_000_000_000
# The Avro money type: decimal, precision 18, scale 6.
MONEY_PLACES = Decimal("0.000001")
MONEY_LIMIT = Decimal(10) ** 12


@contextmanager
def inside(prefix: str) -> Iterator[None]:
    """Errors raised within name their field below ``prefix`` (``item`` + ``messageUuid``)."""
    try:
        yield
    except NormalizeError as exc:
        raise NormalizeError(f"{prefix}.{exc.path}" if exc.path else prefix, exc.reason) from None


def required(payload: Mapping[str, Any], key: str) -> Any:
    value = payload.get(key)
    if value is None:
        raise NormalizeError(key, "missing")
    return value


def required_str(payload: Mapping[str, Any], key: str) -> str:
    value = required(payload, key)
    if not isinstance(value, str) or not value:
        raise NormalizeError(key, f"expected a non-empty string, got {value!r}")
    return value


def required_str_or_int(payload: Mapping[str, Any], key: str) -> str:
    """An id or code the provider may send as a string or an integer, as a string."""
    value = optional_str_or_int(payload, key)
    if value is None:
        raise NormalizeError(key, "missing")
    return value


def required_object(payload: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = required(payload, key)
    if not isinstance(value, Mapping):
        raise NormalizeError(key, f"expected an object, got {value!r}")
    return value


def optional_object(payload: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """The object at ``key``, or an empty one when it is missing or null."""
    return {} if payload.get(key) is None else required_object(payload, key)


def optional_str(payload: Mapping[str, Any], key: str) -> str | None:
    value = payload.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise NormalizeError(key, f"expected a string, got {value!r}")
    return value


def optional_str_or_int(payload: Mapping[str, Any], key: str) -> str | None:
    value = payload.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise NormalizeError(key, f"expected a string or an integer, got {value!r}")
    return str(value)


def optional_int(payload: Mapping[str, Any], key: str) -> int | None:
    value = payload.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise NormalizeError(key, f"expected an integer, got {value!r}")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise NormalizeError(key, f"expected an integer, got {value!r}") from None


def optional_float(payload: Mapping[str, Any], key: str) -> float | None:
    """A finite number, sent as a JSON number or a numeric string (coordinates)."""
    value = payload.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise NormalizeError(key, f"expected a number, got {value!r}")
    try:
        number = float(value)
    except (ValueError, OverflowError):
        raise NormalizeError(key, f"expected a number, got {value!r}") from None
    if not math.isfinite(number):
        raise NormalizeError(key, f"expected a finite number, got {value!r}")
    return number


def parse_money(value: Any, key: str) -> Decimal:
    """An amount as a Decimal with 6 places (the Avro scale); never through a float's binary value."""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise NormalizeError(key, f"expected a number, got {value!r}")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise NormalizeError(key, f"not a number: {value!r}") from None
    if not amount.is_finite() or abs(amount) >= MONEY_LIMIT:
        raise NormalizeError(key, f"not an amount that fits decimal(18, 6): {value!r}")
    return amount.quantize(MONEY_PLACES)


def parse_currency(value: Any, key: str) -> str:
    """An ISO 4217 code, upper case; anything but three ASCII letters is refused."""
    code = value.strip() if isinstance(value, str) else ""
    if len(code) != 3 or not (code.isascii() and code.isalpha()):
        raise NormalizeError(key, f"expected an ISO 4217 code (3 letters), got {value!r}")
    return code.upper()


def string_fields(payload: Mapping[str, Any], keys: Iterable[str]) -> dict[str, str]:
    """The ``keys`` that have a value, as strings (for a ``provider_fields`` map)."""
    return {key: _as_string(payload[key]) for key in keys if payload.get(key) not in (None, "")}


def _as_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def parse_time(value: Any, key: str) -> datetime:
    """A provider time as an aware UTC datetime.

    Accepts ISO 8601 with ``Z``, ``+03:00`` or ``+0300`` offsets, unix seconds and unix
    milliseconds (as numbers or digit strings). A naive ISO time is taken as UTC.
    """
    if isinstance(value, bool) or value is None or value == "":
        raise NormalizeError(key, f"expected a time, got {value!r}")
    try:
        if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
            return _from_unix(float(value))
        if not isinstance(value, str):
            raise NormalizeError(key, f"expected a time, got {value!r}")
        parsed = datetime.fromisoformat(value)
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        raise NormalizeError(key, f"not a time (ISO 8601 or unix seconds/ms): {value!r}") from None


def _from_unix(number: float) -> datetime:
    seconds = number / 1000 if number >= MILLIS_THRESHOLD else number
    return datetime.fromtimestamp(seconds, tz=UTC)

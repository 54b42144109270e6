"""Reading provider payload fields, with errors that name the field path."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from streams.errors import NormalizeError

# Unix times above this are milliseconds, not seconds (the year 5138 in seconds).
MILLIS_THRESHOLD = 100_000_000_000


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


def optional_str(payload: Mapping[str, Any], key: str) -> str | None:
    value = payload.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise NormalizeError(key, f"expected a string, got {value!r}")
    return value


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


def parse_time(value: Any, key: str) -> datetime:
    """A provider time as an aware UTC datetime.

    Accepts ISO 8601 with ``Z``, ``+03:00`` or ``+0300`` offsets, unix seconds and unix
    milliseconds (as numbers or digit strings). A naive ISO time is taken as UTC.
    """
    if isinstance(value, bool) or value is None or value == "":
        raise NormalizeError(key, f"expected a time, got {value!r}")
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        number = float(value)
        seconds = number / 1000 if number >= MILLIS_THRESHOLD else number
        return datetime.fromtimestamp(seconds, tz=UTC)
    if not isinstance(value, str):
        raise NormalizeError(key, f"expected a time, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise NormalizeError(key, f"not an ISO 8601 time: {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)

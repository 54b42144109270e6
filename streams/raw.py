"""Raw records (as the gateway writes them) in, :class:`RawCallback` out; and DLQ headers."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from streams.canonical import RawCallback, SourceRef
from streams.errors import NormalizeError

Headers = Mapping[str, bytes] | Iterable[tuple[str, bytes]]


def header_dict(headers: Headers | None) -> dict[str, bytes]:
    """The headers as a dict of bytes; a dict (this function's own result) is taken as it is,
    so that the worker parses a record's headers once."""
    if headers is None:
        return {}
    if type(headers) is dict:
        return headers
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {str(key): bytes(value or b"") for key, value in items}


def decode_raw(
    key: bytes | None, value: bytes | None, headers: Headers | None, source: SourceRef
) -> RawCallback:
    """Parse one raw record; NormalizeError says what is wrong with it."""
    found = header_dict(headers)
    provider = found.get("provider", b"").decode() or _provider_from_topic(source.topic)
    if not key:
        raise NormalizeError("key", "missing: raw records are keyed by message key")
    payload = _json(value or b"")
    if not isinstance(payload, dict):
        raise NormalizeError("value", f"expected a JSON object, got {type(payload).__name__}")
    return RawCallback(
        provider=provider,
        kind=found.get("kind", b"").decode() or "unknown",
        message_key=key.decode(errors="replace"),
        payload=payload,
        received_at=_received_at(found.get("received_at")),
        source=source,
    )


def provider_of(key: bytes | None, headers: Headers | None) -> str:
    """The provider of a record: its ``provider`` header, else its key's ``<provider>:`` prefix."""
    found = header_dict(headers).get("provider", b"").decode(errors="replace")
    if found:
        return found
    prefix, colon, _ = (key or b"").decode(errors="replace").partition(":")
    return prefix if colon and prefix else "unknown"


def source_of(headers: Headers | None, topic: str, partition: int, offset: int) -> SourceRef:
    """Where the callback was first written: the record itself, or for a replayed record
    (``cbsp replay``) the raw record named by its ``source_*`` headers."""
    found = header_dict(headers)
    if "source_topic" not in found:  # the usual case, without raising
        return SourceRef(topic, partition, offset)
    try:
        return SourceRef(
            found["source_topic"].decode(), int(found["source_partition"]), int(found["source_offset"])
        )
    except (KeyError, ValueError, UnicodeDecodeError):
        return SourceRef(topic, partition, offset)


def dlq_headers(headers: Headers | None, error: str, source: SourceRef) -> list[tuple[str, bytes]]:
    """The raw record's headers plus why it failed and where it came from."""
    kept = {
        k: v
        for k, v in header_dict(headers).items()
        if k not in ("source_topic", "source_partition", "source_offset", "error")
    }
    return [
        *kept.items(),
        ("error", error.encode()),
        ("source_topic", source.topic.encode()),
        ("source_partition", str(source.partition).encode()),
        ("source_offset", str(source.offset).encode()),
    ]


def _json(value: bytes) -> Any:
    """The value parsed; orjson first (a fifth of the time), the standard library for what orjson
    refuses and it takes (NaN, integers past 64 bits), and its message when neither does."""
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NormalizeError("value", f"not JSON: {exc}") from None


def _provider_from_topic(topic: str) -> str:
    return topic.rsplit(".", 1)[-1]


def _received_at(value: bytes | None) -> datetime:
    if not value:
        raise NormalizeError("headers.received_at", "missing")
    try:
        moment = datetime.fromisoformat(value.decode())
    except (UnicodeDecodeError, ValueError):
        raise NormalizeError("headers.received_at", f"not an RFC 3339 time: {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

"""The canonical model every provider's callbacks are normalized into.

A normalizer turns one :class:`RawCallback` into :class:`CanonicalEvent` records
whose fields are exactly those of the event's Avro schema in ``schemas/``.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from streams import codecs

# Canonical statuses and their ranks: a higher rank is never replaced by a lower one.
STATUS_RANKS: Mapping[str, int] = {
    "PENDING": 10,
    "SENT": 20,
    "UNKNOWN": 30,
    "REJECTED": 40,
    "UNDELIVERED": 40,
    "EXPIRED": 40,
    "CANCELLED": 40,
    "FAILED": 40,
    "DELIVERED": 50,
    "READ": 60,
}
FINAL_RANK = 40

# kind -> Avro record name of its events
EVENT_SCHEMAS: Mapping[str, str] = {
    "status": "MessageStatusEvent",
    "price": "MessagePriceEvent",
    "click": "LinkClickEvent",
    "inbound": "InboundMessageEvent",
}

EVENT_ID_NAMESPACE = uuid.UUID("6f1c3c1e-8a0e-4a53-9a57-2f1d1f4b7c10")
NAMESPACE_BYTES = EVENT_ID_NAMESPACE.bytes


@dataclass(frozen=True)
class SourceRef:
    topic: str
    partition: int
    offset: int

    def as_record(self) -> dict[str, Any]:
        return {"topic": self.topic, "partition": self.partition, "offset": self.offset}


@dataclass(frozen=True)
class RawCallback:
    """One raw record as the gateway wrote it, with where it was read."""

    provider: str
    kind: str
    message_key: str
    payload: Mapping[str, Any]
    received_at: datetime
    source: SourceRef


@dataclass(frozen=True)
class NormalizeOptions:
    """Deployment facts a normalizer needs that the callbacks do not carry."""

    edna_rate_currency: str | None = None  # ISO 4217 of edna's `rate` (CBSP_EDNA_RATE_CURRENCY)


@dataclass(frozen=True)
class CanonicalEvent:
    kind: str
    record: Mapping[str, Any]

    @property
    def schema(self) -> str:
        return EVENT_SCHEMAS[self.kind]

    @property
    def event_id(self) -> str:
        return str(self.record["event_id"])

    @property
    def message_key(self) -> str:
        return str(self.record["message_key"])


def event_id(provider: str, kind: str, *natural_key: object) -> str:
    """Deterministic id from the provider's natural key: a retried callback gets the same id.

    ``str(uuid.uuid5(EVENT_ID_NAMESPACE, name))``, computed without building the UUID object
    (a third of the time; ``tests/unit/test_canonical_ids.py`` checks they are equal).
    """
    name = "|".join([provider, kind, *(_key_part(part) for part in natural_key)])
    digest = bytearray(hashlib.sha1(NAMESPACE_BYTES + name.encode(), usedforsecurity=False).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def with_defaults(kind: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """``record`` with every field it lacks set to its schema default."""
    return codecs.field_defaults(EVENT_SCHEMAS[kind]) | dict(record)


def _key_part(part: object) -> str:
    if part is None:
        return ""
    if isinstance(part, datetime):  # one instant, however the provider wrote it
        return str(int(part.timestamp() * 1000))
    return str(part)


def envelope(
    raw: RawCallback,
    *,
    kind: str,
    natural_key: tuple[object, ...],
    provider_message_id: str,
    occurred_at: datetime,
    channel: str | None = None,
    cascade_id: str | None = None,
    cascade_step: int | None = None,
) -> dict[str, Any]:
    """The fields every canonical event carries (DESIGN.md, "Avro")."""
    return {
        "event_id": event_id(raw.provider, kind, *natural_key),
        "message_key": f"{raw.provider}:{provider_message_id}",
        "provider": raw.provider,
        "provider_message_id": provider_message_id,
        "channel": channel.upper() if channel else None,
        "cascade_id": cascade_id,
        "cascade_step": cascade_step,
        "occurred_at": occurred_at,
        "received_at": raw.received_at,
        "source": raw.source.as_record(),
    }


def status_fields(
    status: str | None,
    provider_status: str,
    error_code: object = None,
    final: bool | None = None,
    read_state: str | None = None,
) -> dict[str, Any]:
    """The status part of a status event.

    ``status`` is a canonical status (a key of STATUS_RANKS) or None when the callback
    only reports a read state; ``final`` overrides the rank rule when the provider says.
    """
    rank = STATUS_RANKS[status] if status is not None else None
    return {
        "status": status,
        "status_rank": rank,
        "is_final": (rank is not None and rank >= FINAL_RANK) if final is None else final,
        "provider_status": provider_status,
        "error_code": None if error_code is None else str(error_code),
        "read_state": read_state,
    }

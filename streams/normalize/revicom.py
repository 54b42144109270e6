"""Revicom: what its callbacks mean (shapes in shared/providers/revicom.md)."""

from __future__ import annotations

from typing import Any

from streams.canonical import CanonicalEvent, NormalizeOptions, RawCallback, envelope, status_fields
from streams.normalize.fields import optional_int, optional_str, parse_time, required_str

STATUSES = {
    "sending": "PENDING",
    "sent": "SENT",
    "unsent": "REJECTED",
    "undelivered": "UNDELIVERED",
    "delivered": "DELIVERED",
    "read": "READ",
}


def normalize(raw: RawCallback, options: NormalizeOptions) -> list[CanonicalEvent]:
    if raw.kind == "status":
        return [_status(raw)]
    return []


def _common(raw: RawCallback, kind: str, time_key: str, *natural_key: object) -> dict[str, Any]:
    """The envelope; the event id is (message_uuid, *natural_key, the parsed time)."""
    payload = raw.payload
    message_uuid = required_str(payload, "message_uuid")
    occurred_at = parse_time(payload.get(time_key), time_key)
    return envelope(
        raw,
        kind=kind,
        natural_key=(message_uuid, *natural_key, occurred_at),
        provider_message_id=message_uuid,
        occurred_at=occurred_at,
        channel=optional_str(payload, "channel_type"),
        cascade_id=optional_str(payload, "cascade_message_uuid"),
        cascade_step=optional_int(payload, "cascade_step"),
    )


def _status(raw: RawCallback) -> CanonicalEvent:
    payload = raw.payload
    provider_status = required_str(payload, "status")
    record = _common(raw, "status", "status_time", required_str(payload, "callback_event"), provider_status)
    status = STATUSES.get(provider_status, "UNKNOWN")
    record |= status_fields(status, provider_status, optional_int(payload, "error_code"))
    return CanonicalEvent("status", record)

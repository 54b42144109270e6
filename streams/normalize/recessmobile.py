"""RecessMobile: what its callbacks mean (shapes in shared/providers/recessmobile.md).

Form bodies carry every value as a string, JSON bodies may carry numbers and booleans:
both read to the same values, so one callback gets one event id however it was sent.
``api_key`` names the app: it enters event ids (hashed), never an event's fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streams.canonical import (
    CanonicalEvent,
    NormalizeOptions,
    RawCallback,
    envelope,
    status_fields,
    with_defaults,
)
from streams.errors import NormalizeError
from streams.normalize.fields import parse_time

PROVIDER = "recessmobile"
CHANNEL = "SMS"
STATUSES = {"4": "PENDING", "0": "SENT", "1": "DELIVERED", "2": "UNDELIVERED"}
# final=true on a report that is no outcome (queued, pending): nothing more will come, so unknown
FINAL_STATUSES = {"4": "UNKNOWN", "0": "UNKNOWN"}
BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
PROVIDER_FIELDS = ("carrier_id", "carrier_name", "auto_subscribe", "auto_responded")
FLAGS = frozenset({"auto_subscribe", "auto_responded"})


def normalize(raw: RawCallback, options: NormalizeOptions) -> list[CanonicalEvent]:
    if raw.kind == "status":
        return [_delivery_report(raw)]
    if raw.kind == "inbound":
        return [_incoming_message(raw)]
    return []  # other types are kept raw only


def _delivery_report(raw: RawCallback) -> CanonicalEvent:
    payload = raw.payload
    api_key, message_id = _text(payload, "api_key"), _text(payload, "message_id")
    provider_status, final = _text(payload, "status"), _flag(payload, "final")
    record = envelope(
        raw,
        kind="status",
        natural_key=(api_key, message_id, provider_status, final),
        provider_message_id=message_id,
        # a delivery_report carries no time at all: the gateway's receive time stands in for it
        occurred_at=raw.received_at,
        channel=CHANNEL,
    )
    status = _status(provider_status, final)
    record |= status_fields(status, provider_status, final=True if final else None)
    return CanonicalEvent("status", record)


def _status(provider_status: str, final: bool | None) -> str:
    if final and provider_status in FINAL_STATUSES:
        return FINAL_STATUSES[provider_status]
    return STATUSES.get(provider_status, "UNKNOWN")


def _incoming_message(raw: RawCallback) -> CanonicalEvent:
    payload = raw.payload
    api_key, phone_number = _text(payload, "api_key"), _text(payload, "phone_number")
    body = _text(payload, "body", allow_empty=True)
    sent_at = parse_time(payload.get("sent_at"), "sent_at")
    record = envelope(
        raw,
        kind="inbound",
        natural_key=(api_key, phone_number, sent_at, body),
        provider_message_id=_derived_id(raw),
        occurred_at=sent_at,
        channel=CHANNEL,
    )
    text = body or None  # an empty SMS is an inbound without text
    fields = {
        "sender": phone_number,
        "text": text,
        "content_type": "text" if text else None,
        "provider_fields": _provider_fields(payload),
    }
    return CanonicalEvent("inbound", with_defaults("inbound", record | fields))


def _derived_id(raw: RawCallback) -> str:
    """The id the gateway derived for an incoming message (it lives in one place: the gateway)."""
    prefix, _, derived = raw.message_key.partition(":")
    if prefix != PROVIDER or not derived:
        raise NormalizeError("key", f"expected {PROVIDER}:<derived id>, got {raw.message_key!r}")
    return derived


def _provider_fields(payload: Mapping[str, Any]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for key in PROVIDER_FIELDS:
        value = _flag(payload, key) if key in FLAGS else _optional_text(payload, key)
        if value is not None:
            fields[key] = str(value).lower() if key in FLAGS else str(value)
    return fields


def _text(payload: Mapping[str, Any], key: str, *, allow_empty: bool = False) -> str:
    value = _optional_text(payload, key, allow_empty=allow_empty)
    if value is None:
        raise NormalizeError(key, "missing")
    return value


def _optional_text(payload: Mapping[str, Any], key: str, *, allow_empty: bool = False) -> str | None:
    """A string or number field as text (form values are strings, JSON may carry numbers)."""
    value = payload.get(key)
    if value is None or (value == "" and not allow_empty):
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise NormalizeError(key, f"expected a string or a number, got {value!r}")
    return str(value)


def _flag(payload: Mapping[str, Any], key: str) -> bool | None:
    """A boolean: JSON true/false/1/0, form "true"/"TRUE"/"1"/"false"/"0"; missing is None."""
    value = payload.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    flag = BOOLEANS.get(str(value).strip().lower()) if isinstance(value, str | int) else None
    if flag is None:
        raise NormalizeError(key, f"expected a boolean, got {value!r}")
    return flag

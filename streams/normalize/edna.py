"""edna: what its callbacks mean (shapes in shared/providers/edna.md).

A delivery status becomes a status event (and a price event, see :func:`_rate`);
an inbound message an inbound event. Required are the ids, ``dlvStatus`` and the
times; everything else may be missing or null.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from streams.canonical import CanonicalEvent, NormalizeOptions, RawCallback, envelope, status_fields
from streams.normalize.fields import (
    optional_float,
    optional_str,
    optional_str_or_int,
    parse_currency,
    parse_money,
    parse_time,
    required_str,
    required_str_or_int,
    string_fields,
)

STATUSES = {
    "enqueued": "PENDING",
    "delayed": "PENDING",
    "sent": "SENT",
    "delivered": "DELIVERED",
    "read": "READ",
    "undelivered": "UNDELIVERED",
    "failed": "FAILED",
    "expired": "EXPIRED",
    "cancelled": "CANCELLED",
    "no-match-template": "REJECTED",
}
INBOUND_PROVIDER_FIELDS = (
    "imType",
    "imSubject",
    "imSubjectId",
    "payload",
    "firstName",
    "lastName",
    "avatarUrl",
    "apiKeyId",
)


def normalize(raw: RawCallback, options: NormalizeOptions) -> list[CanonicalEvent]:
    if raw.kind == "status":
        return _status_events(raw, options)
    if raw.kind == "inbound":
        return [_inbound(raw)]
    return []


def _status_events(raw: RawCallback, options: NormalizeOptions) -> list[CanonicalEvent]:
    """The status, then the price from ``rate`` when there is one to emit."""
    payload = raw.payload
    message_id = required_str_or_int(payload, "imOutMessageId")
    provider_status = required_str(payload, "dlvStatus")
    occurred_at = parse_time(payload.get("dlvStatusAt"), "dlvStatusAt")
    identity = (message_id, provider_status, occurred_at)
    value = provider_status.lower()
    status = _envelope(raw, "status", identity) | status_fields(
        STATUSES.get(value, "UNKNOWN"),
        provider_status,
        optional_str_or_int(payload, "dlvError"),
        read_state="READ" if value == "read" else None,
    )
    price = _rate(raw, identity, options.edna_rate_currency)
    return [CanonicalEvent("status", status), *([price] if price else [])]


def _rate(
    raw: RawCallback, identity: tuple[str, str, datetime], currency: str | None
) -> CanonicalEvent | None:
    """``rate`` (the cost of the fallback SMS) as a price event.

    edna does not say the rate's currency: the deployment does (NormalizeOptions.edna_rate_currency).
    Without it no price event is emitted, as an amount in an unknown currency would mislead;
    ``rate`` is then not read at all, and the status event is emitted all the same.
    """
    rate = raw.payload.get("rate")
    if currency is None or rate is None or rate == "":
        return None
    record = _envelope(raw, "price", identity) | {
        "price": parse_money(rate, "rate"),
        "currency": parse_currency(currency, "options.edna_rate_currency"),
        "parts": None,
    }
    return CanonicalEvent("price", record)


def _envelope(raw: RawCallback, kind: str, identity: tuple[str, str, datetime]) -> dict[str, Any]:
    """A status callback's events: identity (imOutMessageId, dlvStatus, dlvStatusAt)."""
    message_id, _, occurred_at = identity
    return envelope(
        raw, kind=kind, natural_key=identity, provider_message_id=message_id, occurred_at=occurred_at
    )


def _inbound(raw: RawCallback) -> CanonicalEvent:
    payload = raw.payload
    message_id = required_str_or_int(payload, "id")
    record = envelope(
        raw,
        kind="inbound",
        natural_key=(message_id,),
        provider_message_id=message_id,
        occurred_at=parse_time(payload.get("receivedAt"), "receivedAt"),
        channel=optional_str(payload, "imType"),
    )
    return CanonicalEvent("inbound", record | _inbound_fields(payload))


def _inbound_fields(payload: Mapping[str, Any]) -> dict[str, Any]:
    """``address`` is the user's number; ``imSubject`` our subject (sender name) it wrote to."""
    content_type = optional_str(payload, "contentType")
    return {
        "sender": optional_str_or_int(payload, "address"),
        "recipient": optional_str(payload, "imSubject"),
        "text": optional_str(payload, "text"),
        "content_type": content_type.lower() if content_type else None,
        "caption": optional_str(payload, "caption"),
        "attachment_url": optional_str(payload, "attachmentUrl"),
        "attachment_name": optional_str(payload, "attachmentName"),
        "latitude": optional_float(payload, "latitude"),
        "longitude": optional_float(payload, "longitude"),
        "location_address": optional_str(payload, "locationAddress"),
        "sender_name": _sender_name(payload),
        "in_reply_to": None,  # edna does not link an inbound to our outbound message
        "provider_fields": string_fields(payload, INBOUND_PROVIDER_FIELDS),
    }


def _sender_name(payload: Mapping[str, Any]) -> str | None:
    """``userName``, else first and last name."""
    names = (optional_str(payload, key) for key in ("firstName", "lastName"))
    return optional_str(payload, "userName") or " ".join(name for name in names if name) or None

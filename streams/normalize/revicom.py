"""Revicom: what its callbacks mean (shapes in shared/providers/revicom.md).

Required here is what an event's identity and its schema's non-null fields need
(message_uuid, status, status_time, price, currency, price_time, short_url,
click_time, the inbound item); the rest is read as optional, as the schema allows
null, although the docs call some of it required (channel_type, parts, url).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from streams.canonical import CanonicalEvent, NormalizeOptions, RawCallback, envelope, status_fields
from streams.normalize.fields import (
    inside,
    optional_int,
    optional_object,
    optional_str,
    optional_str_or_int,
    parse_currency,
    parse_money,
    parse_time,
    required,
    required_object,
    required_str,
    string_fields,
)

STATUSES = {
    "sending": "PENDING",
    "sent": "SENT",
    "unsent": "REJECTED",
    "undelivered": "UNDELIVERED",
    "delivered": "DELIVERED",
    "read": "READ",
}
READ_STATES = {"read": "READ", "unread": "UNREAD"}
# Reports only a read state: the delivery status stays what it was (status None).
READ_STATE_ONLY = frozenset({"unread"})
# Item fields kept as they are: senderName is also the recipient, destination the sender.
INBOUND_PROVIDER_FIELDS = ("senderName", "destination", "trafficCenterId", "totalParts")


def normalize(raw: RawCallback, options: NormalizeOptions) -> list[CanonicalEvent]:
    """One event per callback; kinds kept raw only (``other``) give none."""
    build = BUILDERS.get(raw.kind)
    return [build(raw)] if build else []


def _outbound(raw: RawCallback, kind: str, time_key: str, *natural_key: object) -> dict[str, Any]:
    """The envelope of an outbound message's event; identity (message_uuid, *natural_key, time)."""
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
    record = _outbound(raw, "status", "status_time", required_str(payload, "callback_event"), provider_status)
    value = provider_status.lower()
    status = None if value in READ_STATE_ONLY else STATUSES.get(value, "UNKNOWN")
    error_code = optional_str_or_int(payload, "error_code")
    record |= status_fields(status, provider_status, error_code, read_state=READ_STATES.get(value))
    return CanonicalEvent("status", record)


def _price(raw: RawCallback) -> CanonicalEvent:
    payload = raw.payload
    record = _outbound(raw, "price", "price_time")
    record |= {
        "price": parse_money(required(payload, "price"), "price"),
        "currency": parse_currency(required(payload, "currency"), "currency"),
        "parts": optional_int(payload, "parts"),
    }
    return CanonicalEvent("price", record)


def _click(raw: RawCallback) -> CanonicalEvent:
    payload = raw.payload
    short_url = required_str(payload, "short_url")
    record = _outbound(raw, "click", "click_time", short_url)
    record |= {"url": optional_str(payload, "url"), "short_url": short_url}
    return CanonicalEvent("click", record)


def _inbound(raw: RawCallback) -> CanonicalEvent:
    """Keyed like the gateway keys it: item.messageUuid, else message_uuid."""
    payload = raw.payload
    item = required_object(payload, "item")
    with inside("item"):
        item_uuid = optional_str(item, "messageUuid")
        item_channel = optional_str(item, "channelType")
    message_uuid = item_uuid or required_str(payload, "message_uuid")
    record = envelope(
        raw,
        kind="inbound",
        natural_key=(message_uuid,),
        provider_message_id=message_uuid,
        occurred_at=parse_time(payload.get("status_time"), "status_time"),
        channel=optional_str(payload, "channel_type") or item_channel,
    )
    with inside("item"):
        record |= _inbound_fields(item)
    return CanonicalEvent("inbound", record)


def _inbound_fields(item: Mapping[str, Any]) -> dict[str, Any]:
    """The item is Revicom's message object: for an inbound, ``destination`` is the user's
    number and ``senderName`` our sender name the user wrote to."""
    content = optional_object(item, "specialContent")
    with inside("specialContent"):
        text = optional_str(content, "text")
        content_type = optional_str(content, "contentType")
    return {
        "sender": optional_str_or_int(item, "destination"),
        "recipient": optional_str(item, "senderName"),
        "text": text or optional_str(item, "content"),
        "content_type": content_type.lower() if content_type else None,
        "caption": None,
        "attachment_url": None,
        "attachment_name": None,
        "latitude": None,
        "longitude": None,
        "location_address": None,
        "sender_name": None,  # Revicom gives no user display name
        "in_reply_to": None,
        "provider_fields": string_fields(item, INBOUND_PROVIDER_FIELDS),
    }


BUILDERS: Mapping[str, Callable[[RawCallback], CanonicalEvent]] = {
    "status": _status,
    "price": _price,
    "click": _click,
    "inbound": _inbound,
}

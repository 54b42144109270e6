"""A message state in its three outward forms.

- the table value: compact JSON bytes (orjson, keys sorted), with the event ids the state holds
  (the table's changelog carries exactly this, so a rebuilt table dedupes as the original did);
- the Avro ``MessageState`` record of ``state.message.v1`` (no event ids: counts only);
- the JSON of the table view: that record with money as decimal strings and times as
  RFC 3339 UTC strings with milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson

from streams.state import EPOCH, CascadePick, ChannelPick, MessageState, PricePick, StatusPick

SCHEMA = "MessageState"


def to_json(state: MessageState) -> bytes:
    """The table value: sorted, compact JSON (equal states give equal bytes)."""
    document = {
        "message_key": state.message_key,
        "provider": state.provider,
        "provider_message_id": state.provider_message_id,
        "first_event_at": state.first_event_at,
        "last_event_at": state.last_event_at,
        "status": _status_fields(state.status) if state.status else None,
        "price": {**_price_fields(state.price), "amount": str(state.price.amount)} if state.price else None,
        "channel": _channel_fields(state.channel) if state.channel else None,
        "cascade": _cascade_fields(state.cascade) if state.cascade else None,
        "read_state": state.read_state,
        "last_click_at": state.last_click_at,
        "statuses": sorted(state.statuses),
        "finals": sorted(state.finals),
        "short_urls": sorted(state.short_urls),
        "ids": {kind: sorted(ids) for kind, ids in state.ids.items()},
    }
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)


def provider_and_status(data: bytes) -> tuple[str, str | None]:
    """The provider and latest canonical status of a table value, without building the state."""
    document = orjson.loads(data)
    status = document["status"]
    return document["provider"], None if status is None else status["status"]


def from_json(data: bytes) -> MessageState:
    document = orjson.loads(data)
    price = document["price"]
    return MessageState(
        message_key=document["message_key"],
        provider=document["provider"],
        provider_message_id=document["provider_message_id"],
        first_event_at=document["first_event_at"],
        last_event_at=document["last_event_at"],
        status=StatusPick(**document["status"]) if document["status"] else None,
        price=PricePick(**{**price, "amount": Decimal(price["amount"])}) if price else None,
        channel=ChannelPick(**document["channel"]) if document["channel"] else None,
        cascade=CascadePick(**document["cascade"]) if document["cascade"] else None,
        read_state=document["read_state"],
        last_click_at=document["last_click_at"],
        statuses=frozenset(document["statuses"]),
        finals=frozenset(document["finals"]),
        short_urls=frozenset(document["short_urls"]),
        ids={kind: frozenset(ids) for kind, ids in document["ids"].items()},
    )


def to_record(state: MessageState, time: Callable[[int | None], Any] | None = None) -> dict[str, Any]:
    """The Avro ``MessageState`` record (times as aware datetimes, money as Decimal).

    ``time=as_millis`` leaves the times as epoch milliseconds, which the Avro writer takes as they
    are: what the worker encodes, without a datetime per time and back.
    """
    at = moment if time is None else time
    return {
        "message_key": state.message_key,
        "provider": state.provider,
        "provider_message_id": state.provider_message_id,
        "status": None
        if state.status is None
        else {**_status_fields(state.status), "at": at(state.status.at)},
        "read_state": state.read_state,
        "channel": state.channel.channel if state.channel else None,
        "cascade_id": state.cascade.cascade_id if state.cascade else None,
        "cascade_step": state.cascade.step if state.cascade else None,
        "price": None if state.price is None else {**_price_fields(state.price), "at": at(state.price.at)},
        "click_count": state.click_count,
        "short_urls": sorted(state.short_urls),
        "last_click_at": at(state.last_click_at),
        "inbound_count": state.inbound_count,
        "first_event_at": at(state.first_event_at),
        "last_event_at": at(state.last_event_at),
        "event_count": state.event_count,
        "conflict": state.conflict,
    }


# The picks as dicts, field by field: ``dataclasses.asdict`` deep-copies every value on the way,
# and was a quarter of the worker's own time per record (docs/architecture.md).
def _status_fields(pick: StatusPick) -> dict[str, Any]:
    return {
        "status": pick.status,
        "rank": pick.rank,
        "is_final": pick.is_final,
        "provider_status": pick.provider_status,
        "error_code": pick.error_code,
        "at": pick.at,
        "event_id": pick.event_id,
    }


def _price_fields(pick: PricePick) -> dict[str, Any]:
    return {
        "amount": pick.amount,
        "currency": pick.currency,
        "parts": pick.parts,
        "at": pick.at,
        "event_id": pick.event_id,
    }


def _channel_fields(pick: ChannelPick) -> dict[str, Any]:
    return {"channel": pick.channel, "at": pick.at, "event_id": pick.event_id}


def _cascade_fields(pick: CascadePick) -> dict[str, Any]:
    return {"cascade_id": pick.cascade_id, "step": pick.step, "at": pick.at, "event_id": pick.event_id}


def as_millis(epoch_millis: int | None) -> int | None:
    return epoch_millis


def moment(epoch_millis: int | None) -> datetime | None:
    """The aware UTC datetime of epoch milliseconds, exactly."""
    return None if epoch_millis is None else EPOCH + timedelta(milliseconds=epoch_millis)


def jsonable(value: Any) -> Any:
    """A record as JSON values: times as RFC 3339 UTC with milliseconds, money as decimal strings."""
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, Decimal):
        return format(value, "f")  # never scientific notation
    if isinstance(value, Mapping):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    return value


def rfc3339(value: datetime) -> str:
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")

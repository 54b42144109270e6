"""What the case files cannot show: options, identity across formats, refused bodies."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from gateway.errors import ShapeError
from gateway.providers import edna as edna_gateway
from gateway.providers import revicom as revicom_gateway
from streams.canonical import NormalizeOptions, RawCallback, SourceRef
from streams.errors import NormalizeError
from streams.normalize import normalize

EDNA_STATUS = {
    "imOutMessageId": "wa-1",
    "dlvStatus": "delivered",
    "dlvStatusAt": "2024-03-05T15:00:00.000+0300",
    "dlvError": None,
    "rate": "0.35",
    "reserveSms": "delivered",
}
REVICOM_STATUS = {
    "message_uuid": "063464ec-a34f-4558-90c5-984395000003",
    "channel_type": "SMS",
    "callback_event": "delivered",
    "status": "delivered",
    "status_time": "2020-10-16T18:51:13Z",
}


def raw(provider: str, kind: str, payload: dict[str, Any], offset: int = 0) -> RawCallback:
    source = SourceRef(f"callbacks.raw.{provider}", 0, offset)
    return RawCallback(provider, kind, f"{provider}:x", payload, datetime(2026, 1, 1, tzinfo=UTC), source)


def test_edna_rate_becomes_a_price_in_the_configured_currency() -> None:
    status, price = normalize(raw("edna", "status", EDNA_STATUS), NormalizeOptions(edna_rate_currency="rub"))
    assert status.kind == "status" and status.record["status"] == "DELIVERED"
    assert price.kind == "price"
    assert price.record["price"] == Decimal("0.350000")
    assert price.record["currency"] == "RUB"
    assert price.record["parts"] is None
    assert price.message_key == status.message_key == "edna:wa-1"
    assert price.record["occurred_at"] == status.record["occurred_at"] == datetime(2024, 3, 5, 12, tzinfo=UTC)
    assert price.event_id != status.event_id


@pytest.mark.parametrize("rate", [None, ""])
def test_edna_status_without_rate_gives_no_price(rate: Any) -> None:
    events = normalize(raw("edna", "status", EDNA_STATUS | {"rate": rate}), NormalizeOptions("EUR"))
    assert [event.kind for event in events] == ["status"]


def test_edna_rate_is_not_read_without_a_currency() -> None:
    events = normalize(raw("edna", "status", EDNA_STATUS | {"rate": "n/a"}), NormalizeOptions(None))
    assert [event.kind for event in events] == ["status"]


def test_edna_bad_rate_is_refused_when_it_would_become_a_price() -> None:
    with pytest.raises(NormalizeError) as refused:
        normalize(raw("edna", "status", EDNA_STATUS | {"rate": "n/a"}), NormalizeOptions("EUR"))
    assert refused.value.path == "rate"


def test_a_retried_callback_gets_the_same_event_ids_wherever_it_is_read() -> None:
    first = normalize(raw("edna", "status", EDNA_STATUS, offset=1), NormalizeOptions("EUR"))
    again = normalize(raw("edna", "status", dict(EDNA_STATUS), offset=99), NormalizeOptions("EUR"))
    assert [e.event_id for e in first] == [e.event_id for e in again]


def test_one_instant_written_in_another_offset_is_the_same_event() -> None:
    moved = REVICOM_STATUS | {"status_time": "2020-10-16T21:51:13+03:00"}
    [event] = normalize(raw("revicom", "status", REVICOM_STATUS))
    [same] = normalize(raw("revicom", "status", moved))
    assert same.event_id == event.event_id


@pytest.mark.parametrize(
    "change", [{"status_time": "2020-10-16T18:51:14Z"}, {"status": "read"}, {"callback_event": "read"}]
)
def test_another_status_report_is_another_event(change: dict[str, str]) -> None:
    [event] = normalize(raw("revicom", "status", REVICOM_STATUS))
    [other] = normalize(raw("revicom", "status", REVICOM_STATUS | change))
    assert other.event_id != event.event_id


@pytest.mark.parametrize("provider", ["revicom", "edna"])
def test_kinds_kept_raw_give_no_event(provider: str) -> None:
    assert normalize(raw(provider, "other", {"anything": 1})) == []


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ([EDNA_STATUS], ""),
        ("delivered", ""),
        ({"text": "no id at all"}, ""),
        ({"imOutMessageId": {"id": 1}, "dlvStatus": "sent"}, "imOutMessageId"),
        ({"id": " ", "receivedAt": "2024-03-05T12:00:00Z"}, "id"),
    ],
)
def test_edna_gateway_refuses_what_is_not_edna(body: Any, path: str) -> None:
    with pytest.raises(ShapeError) as refused:
        edna_gateway.split(body)
    assert refused.value.path == path


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ("delivered", ""),
        ([], ""),
        ([REVICOM_STATUS, 42], "[1]"),
        ([REVICOM_STATUS | {"callback_event": None}], "[0].callback_event"),
        ([REVICOM_STATUS | {"message_uuid": 3}], "[0].message_uuid"),
    ],
)
def test_revicom_gateway_refuses_what_is_not_revicom(body: Any, path: str) -> None:
    with pytest.raises(ShapeError) as refused:
        revicom_gateway.split(body)
    assert refused.value.path == path


def test_revicom_gateway_takes_a_single_object_as_a_batch_of_one() -> None:
    [callback] = revicom_gateway.split(REVICOM_STATUS)
    assert (callback.kind, callback.message_key) == ("status", f"revicom:{REVICOM_STATUS['message_uuid']}")

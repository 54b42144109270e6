"""The compiled Avro writers (``streams.avrowrite``) write the bytes fastavro writes, for every
event and state the samples and the benchmark's input make, and refuse what fastavro refuses."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from fastavro import schemaless_writer

from streams import codecs, staterecords
from streams.batches import process
from streams.errors import CodecError, NormalizeError
from streams.normalize import normalize
from tests.cases import load_cases
from tests.unit.test_batches import OPTIONS, records
from tests.unit.test_provider_cases import split, to_raw


def fastavro_bytes(name: str, record: dict[str, Any]) -> bytes:
    loaded = codecs.schema(name)
    buffer = io.BytesIO()
    buffer.write(codecs.MARKER + loaded.fingerprint)
    schemaless_writer(buffer, loaded.parsed, dict(record), strict_allow_default=True)
    return buffer.getvalue()


def sample_records() -> list[tuple[str, dict[str, Any]]]:
    """Every event of every provider sample, and the events and states of the benchmark's mix."""
    found = []
    for case in load_cases():
        if "rejected" in case.spec:
            continue
        for offset, callback in enumerate(split(case)):
            try:
                events = normalize(to_raw(callback, offset))
            except NormalizeError:
                continue
            found += [(event.schema, dict(event.record)) for event in events]
    result = process(records(3_000), {}.get, OPTIONS)
    found += [(new.event.schema, dict(new.event.record)) for new in result.events]
    found += [
        (staterecords.SCHEMA, staterecords.to_record(staterecords.from_json(change.table_value)))
        for change in result.states
    ]
    return found


def test_every_schema_of_the_package_has_a_compiled_writer() -> None:
    assert all(loaded.writer is not None for loaded in codecs.schema_set().by_name.values())


def test_the_compiled_writers_write_fastavros_bytes() -> None:
    samples = sample_records()
    assert {name for name, _ in samples} >= {
        "MessageStatusEvent",
        "MessagePriceEvent",
        "LinkClickEvent",
        "InboundMessageEvent",
        "MessageState",
    }
    differ = [
        (name, record)
        for name, record in samples
        if codecs.encode(name, record) != fastavro_bytes(name, record)
    ]
    assert differ == []


def price_state(**changes: Any) -> dict[str, Any]:
    moment = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    record = {
        "message_key": "revicom:1",
        "provider": "revicom",
        "provider_message_id": "1",
        "price": {
            "amount": Decimal("-0.050000"),
            "currency": "EUR",
            "parts": None,
            "at": moment,
            "event_id": "e",
        },
        "click_count": 0,
        "short_urls": ["https://s.example/a", "https://s.example/é"],
        "last_click_at": 1_764_000_000_123,
        "inbound_count": 2**31 - 1,
        "first_event_at": moment,
        "last_event_at": moment,
        "event_count": 1,
        "conflict": False,
    }
    return record | changes


@pytest.mark.parametrize(
    "amount",
    [Decimal("0"), Decimal("-0.05"), Decimal("123456789012.123456"), Decimal("-1E-6"), Decimal("128")],
)
def test_decimals_negative_numbers_and_edges_are_written_alike(amount: Decimal) -> None:
    record = price_state()
    record["price"] = record["price"] | {"amount": amount}
    assert codecs.encode("MessageState", record) == fastavro_bytes("MessageState", record)


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"event_count": "1"}, "event_count"),
        ({"inbound_count": 2**31}, "inbound_count"),
        ({"message_key": None}, "message_key"),
        ({"first_event_at": datetime(2026, 12, 3)}, "first_event_at"),  # noqa: DTZ001  (no time zone)
        ({"short_urls": "https://s.example/a"}, "short_urls"),
        (
            {"price": {"amount": Decimal("0.0000001"), "currency": "EUR", "at": 0, "event_id": "e"}},
            "price.amount",
        ),
    ],
)
def test_a_record_that_does_not_fit_is_refused_with_the_field(changes: dict[str, Any], says: str) -> None:
    with pytest.raises(CodecError, match=says):
        codecs.encode("MessageState", price_state(**changes))


def test_a_missing_field_without_default_is_refused_and_one_with_a_default_is_written() -> None:
    record = price_state()
    del record["conflict"]
    with pytest.raises(CodecError, match="conflict"):
        codecs.encode("MessageState", record)
    record = price_state()
    assert "read_state" not in record and "status" not in record  # both default to null
    assert codecs.encode("MessageState", record) == fastavro_bytes("MessageState", record)

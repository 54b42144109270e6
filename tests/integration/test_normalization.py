"""Normalization through the real pipeline: provider retries keep their event ids, and
records that cannot be normalized end in callbacks.dlq while the worker goes on."""

from __future__ import annotations

import asyncio
import json
import uuid

from aiokafka import AIOKafkaProducer

from streams import codecs
from tests.integration.pipeline import ConsumedRecord, Pipeline


def revicom_batch(message_uuid: str) -> bytes:
    common = {"message_uuid": message_uuid, "channel_type": "SMS"}
    return json.dumps(
        [
            {**common, "callback_event": "sent", "status": "sent", "status_time": "2024-03-01T10:00:00Z"},
            {
                **common,
                "callback_event": "price",
                "parts": 1,
                "price": 0.05,
                "currency": "EUR",
                "price_time": "2024-03-01T10:00:01Z",
            },
            {
                **common,
                "callback_event": "click",
                "url": "https://example.org",
                "short_url": "a.bc/x",
                "click_time": "2024-03-01T10:05:00Z",
            },
        ]
    ).encode()


def event_ids(records: list[ConsumedRecord]) -> list[str]:
    return sorted(codecs.decode_message(r.value or b"")["event_id"] for r in records)


def test_a_retried_request_is_two_raw_records_but_its_events_are_emitted_once(pipeline: Pipeline) -> None:
    message_uuid = str(uuid.uuid4())
    key = f"revicom:{message_uuid}".encode()

    first = pipeline.post("revicom", revicom_batch(message_uuid), "application/json")
    second = pipeline.post("revicom", revicom_batch(message_uuid), "application/json")

    assert (first.status_code, second.status_code) == (200, 200)
    raws = pipeline.consume([pipeline.topics.raw("revicom")], keys={key}, count=6, timeout_s=10)
    assert len(raws) == 6
    assert {r.headers["request_id"] for r in raws} == {
        first.headers["X-Request-Id"].encode(),
        second.headers["X-Request-Id"].encode(),
    }
    pipeline.wait_caught_up()  # both copies processed and committed
    # a second copy, if one were emitted, is committed by now: read for it beyond the first three
    events = pipeline.consume(pipeline.topics.events_all(), keys={key}, count=4, timeout_s=10)
    ids = event_ids(events)
    assert len(ids) == 3, f"expected each of the 3 events once, got {ids}"
    assert len(set(ids)) == 3


async def produce_raw(
    bootstrap: str, topic: str, records: list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]]
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for key, value, headers in records:
            await producer.send_and_wait(topic, value=value, key=key, headers=headers)
    finally:
        await producer.stop()


def test_bad_raw_records_go_to_the_dlq_with_the_reason_and_the_worker_goes_on(pipeline: Pipeline) -> None:
    marker = uuid.uuid4().hex
    headers = [
        ("provider", b"revicom"),
        ("kind", b"status"),
        ("received_at", b"2024-03-01T10:00:00.000Z"),
        ("request_id", marker.encode()),
    ]
    bad = [
        (f"revicom:{marker}-1".encode(), b"{not json", headers),
        (f"revicom:{marker}-2".encode(), b"[1, 2]", headers),
        (
            f"revicom:{marker}-3".encode(),
            json.dumps(
                {
                    "message_uuid": f"{marker}-3",
                    "callback_event": "delivered",
                    "status": "delivered",
                    "status_time": "yesterday",
                }
            ).encode(),
            headers,
        ),
        (f"revicom:{marker}-4".encode(), b"{}", [h for h in headers if h[0] != "received_at"]),
    ]
    topic = pipeline.topics.raw("revicom")
    asyncio.run(produce_raw(pipeline.bootstrap, topic, bad))

    letters = pipeline.consume([pipeline.topics.dlq], keys={k for k, _, _ in bad}, count=4)
    reasons = {r.key: r.headers["error"].decode() for r in letters}
    assert "value: not JSON" in reasons[bad[0][0]]
    assert "value: expected a JSON object" in reasons[bad[1][0]]
    assert "status_time" in reasons[bad[2][0]]
    assert "headers.received_at: missing" in reasons[bad[3][0]]
    for letter in letters:
        assert letter.value == dict((k, v) for k, v, _ in bad)[letter.key]  # the raw value, unchanged
        assert letter.headers["source_topic"] == topic.encode()
        assert letter.headers["request_id"] == marker.encode()  # the raw headers are kept
        assert int(letter.headers["source_offset"]) >= 0

    message_uuid = str(uuid.uuid4())  # and the worker is still processing
    body = json.dumps(
        [
            {
                "message_uuid": message_uuid,
                "callback_event": "delivered",
                "status": "delivered",
                "status_time": "2024-03-01T10:00:00Z",
                "channel_type": "SMS",
            }
        ]
    ).encode()
    assert pipeline.post("revicom", body, "application/json").status_code == 200
    state = pipeline.wait_view("revicom", message_uuid, lambda s: s["status"] is not None)
    assert state["status"]["status"] == "DELIVERED"

"""One Revicom callback through the whole path: gateway -> raw topic -> worker -> event topic + view."""

from __future__ import annotations

import json
import uuid

from streams import codecs
from tests.integration.pipeline import Pipeline


def delivered(message_uuid: str) -> bytes:
    item = {
        "message_uuid": message_uuid,
        "channel_type": "SMS",
        "callback_event": "delivered",
        "status": "delivered",
        "status_time": "2020-10-16T18:51:13Z",
    }
    return json.dumps([item]).encode()


def test_a_delivered_callback_becomes_raw_record_event_and_view(pipeline: Pipeline) -> None:
    message_uuid = str(uuid.uuid4())
    key = f"revicom:{message_uuid}".encode()

    response = pipeline.post("revicom", delivered(message_uuid), "application/json")

    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 1}
    # acks=all before the 200: the raw record is already in the raw topic
    (raw,) = pipeline.consume([pipeline.topics.raw("revicom")], keys={key}, count=1, timeout_s=10)
    assert json.loads(raw.value or b"")["message_uuid"] == message_uuid
    assert raw.headers["provider"] == b"revicom"
    assert raw.headers["kind"] == b"status"
    assert raw.headers["request_id"].decode() == response.headers["X-Request-Id"]

    state = pipeline.wait_view("revicom", message_uuid, lambda s: s["status"] is not None)
    assert state["status"]["status"] == "DELIVERED"
    assert state["status"]["at"] == "2020-10-16T18:51:13.000Z"
    assert state["message_key"] == key.decode()

    (event,) = pipeline.consume([pipeline.topics.event("status")], keys={key}, count=1)
    assert event.headers["content-type"] == b"application/vnd.apache.avro+binary"
    assert event.headers["schema"] == b"cbsp.MessageStatusEvent"
    assert (event.value or b"")[:2] == b"\xc3\x01"
    record = codecs.decode_message(event.value or b"", event.headers.items())
    assert record["status"] == "DELIVERED"
    assert record["message_key"] == key.decode()
    assert record["source"] == {"topic": raw.topic, "partition": raw.partition, "offset": raw.offset}


def test_an_unknown_message_has_a_json_404(pipeline: Pipeline) -> None:
    response = pipeline.view("revicom", "no-such-message")

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"

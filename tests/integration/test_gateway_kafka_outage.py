"""Kafka going away and coming back, with a broker of this test's own (the shared one is never
stopped) and the spool switched off (tests/faults has it on): the gateway answers 503 with
Retry-After within the produce timeout, /readyz says not ready, and once the broker is back on
the same ports and data the same gateway process accepts again, without a restart. Also when
the broker was not there at the gateway's start. And a record the broker refuses for its size
is a 413 (a retry would fail the same way), after which the gateway goes on producing.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path

import requests
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from cbsp.localkafka import LocalKafka
from tests.integration.pipeline import Pipeline

TIMEOUT_S = 3.0
MARGIN_S = 1.5  # process scheduling, connection setup
RECOVERY_BOUND_S = 30.0


def callback() -> bytes:
    item = {"message_uuid": str(uuid.uuid4()), "callback_event": "delivered", "status": "delivered"}
    return json.dumps([item]).encode()


def timed_post(pipeline: Pipeline) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = pipeline.post("revicom", callback(), "application/json")
    return response, time.monotonic() - started


def assert_unavailable(pipeline: Pipeline) -> float:
    response, elapsed = timed_post(pipeline)
    assert response.status_code == 503, response.text
    assert response.json()["error"] == "kafka_unavailable"
    assert "retry later" in response.json()["detail"]
    assert int(response.headers["Retry-After"]) > 0
    assert elapsed <= TIMEOUT_S + MARGIN_S
    ready = requests.get(f"{pipeline.gateway_url}/readyz", timeout=TIMEOUT_S + MARGIN_S)
    assert ready.status_code == 503
    assert ready.json()["kafka"] == "unreachable"
    return elapsed


def wait_until_accepted(pipeline: Pipeline) -> tuple[requests.Response, float]:
    started = time.monotonic()
    while time.monotonic() - started < RECOVERY_BOUND_S:
        response, _ = timed_post(pipeline)
        if response.status_code == 200:
            return response, time.monotonic() - started
        assert response.status_code == 503, response.text
        time.sleep(0.2)
    raise AssertionError(f"not accepting {RECOVERY_BOUND_S}s after Kafka came back")


def assert_stored(pipeline: Pipeline, response: requests.Response) -> None:
    request_id = response.headers["X-Request-Id"].encode()
    (record,) = pipeline.consume(
        [pipeline.topics.raw("revicom")], match=lambda r: r.headers.get("request_id") == request_id, count=1
    )
    assert record.key is not None


def test_503_while_kafka_is_down_and_accepting_again_when_it_is_back(
    own_broker: LocalKafka, tmp_path: Path
) -> None:
    pipeline = Pipeline(own_broker.bootstrap_servers, tmp_path / "gateway")
    pipeline.workdir.mkdir()
    timings: dict[str, float] = {}
    try:
        pipeline.gateway_url = pipeline.spawn_gateway(
            CBSP_PRODUCE_TIMEOUT_S=str(TIMEOUT_S), CBSP_GATEWAY_SPOOL_ENABLED="false"
        )
        timings["503, never connected"] = assert_unavailable(pipeline)

        own_broker.start()
        pipeline.create_topics()
        response, timings["first 200 after Kafka started"] = wait_until_accepted(pipeline)
        assert_stored(pipeline, response)

        own_broker.stop()
        timings["first 503 after Kafka stopped"] = assert_unavailable(pipeline)
        timings["next 503 while down"] = max(assert_unavailable(pipeline) for _ in range(3))

        own_broker.start()
        response, timings["first 200 after Kafka restarted"] = wait_until_accepted(pipeline)
        assert_stored(pipeline, response)
        assert requests.get(f"{pipeline.gateway_url}/readyz", timeout=10).status_code == 200
        assert pipeline.process("gateway").poll() is None
        assert (
            pipeline.log_tail("gateway", 10_000).count("Booting worker") == 1
        )  # the same process throughout
    finally:
        pipeline.stop()
    print("gateway outage timings (s):", {k: round(v, 2) for k, v in timings.items()})


def test_a_record_kafka_refuses_as_too_large_is_413_and_the_next_ones_pass(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    pipeline = Pipeline(kafka_bootstrap, tmp_path)
    small_topic = NewTopic(pipeline.topics.raw("fortytwo"), 1, 1, topic_configs={"max.message.bytes": "2000"})
    asyncio.run(create_topic(kafka_bootstrap, small_topic))
    pipeline.create_topics()
    try:
        # the broker's refusal, not the spool's 2 s, must answer (a new topic's metadata can be slow)
        pipeline.gateway_url = pipeline.spawn_gateway(CBSP_GATEWAY_SPOOL_AFTER_S="30")
        report = {"message_id": str(uuid.uuid4()), "status": "DELIVERED", "padding": "x" * 5000}
        response = pipeline.post("fortytwo", json.dumps({"data": [report]}).encode(), "application/json")
        assert response.status_code == 413, response.text
        assert response.json()["error"] == "body_too_large"
        assert "Kafka refuses a record this large" in response.json()["detail"]

        del report["padding"]
        response = pipeline.post("fortytwo", json.dumps({"data": [report]}).encode(), "application/json")
        assert response.status_code == 200, response.text
        assert timed_post(pipeline)[0].status_code == 200
    finally:
        pipeline.stop()


async def create_topic(bootstrap: str, topic: NewTopic) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([topic])
    finally:
        await admin.close()

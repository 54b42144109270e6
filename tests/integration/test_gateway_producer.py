"""The gateway's producer (librdkafka) against a real broker: a key lands in the partition
Kafka's Java client and aiokafka (the workers, replay) choose for it, so switching clients
moves no message's events to another partition; the headers arrive as sent; a send to a
broker that is not there fails within its timeout with every record named undelivered."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from aiokafka.partitioner import DefaultPartitioner

from gateway.errors import KafkaUnavailableError
from gateway.producer import OutRecord, RawProducer
from tests.integration.pipeline import Pipeline

PARTITIONS = 8


def test_keys_land_in_the_partitions_the_java_client_and_aiokafka_choose(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    pipeline = Pipeline(kafka_bootstrap, tmp_path)
    pipeline.create_topics(partitions=PARTITIONS)
    topic = pipeline.topics.raw("revicom")
    keys = [f"revicom:{n:08d}-key".encode() for n in range(200)]
    headers = [("provider", b"revicom"), ("kind", b"status"), ("source_ip", b"\xff\x00")]
    producer = RawProducer(kafka_bootstrap, timeout_s=10)
    try:
        for start in range(0, len(keys), 20):
            producer.send_all([OutRecord(topic, key, b"{}", headers) for key in keys[start : start + 20]])
    finally:
        producer.close()

    records = pipeline.consume([topic], count=len(keys))
    assert sorted(r.key for r in records if r.key is not None) == sorted(keys)
    everything = list(range(PARTITIONS))
    for record in records:
        assert record.key is not None
        assert record.partition == DefaultPartitioner()(record.key, everything, everything), record.key
        assert record.headers == dict(headers)


@pytest.mark.parametrize("late", [False, True])
def test_no_broker_is_a_503_within_the_timeout_with_every_record_undelivered(late: bool) -> None:
    producer = RawProducer("127.0.0.1:1", timeout_s=1.0)  # nothing listens on port 1
    outcomes: list[list[int] | None] = []
    records = [OutRecord("t", b"k", b"v", []), OutRecord("t", b"k2", b"v", [])]
    try:
        started = time.monotonic()
        with pytest.raises(KafkaUnavailableError) as raised:
            producer.send_all(records, late=outcomes.append if late else None)
        assert time.monotonic() - started < 2.5
        undelivered = raised.value.undelivered
        assert undelivered is None or undelivered == [0, 1]
        assert not producer.is_ready(timeout_s=0.5)
    finally:
        producer.close()
    assert outcomes in ([], [[0, 1]], [None])

"""The benchmark's directly written changelog (bench.changelog) is what the worker's table writes:

- a worker fed the same raw callbacks writes, for every message, the same latest changelog
  record (key, value bytes, partition) that bench.changelog builds;
- a fresh worker on a changelog written by bench.changelog (and on raw topics of its own,
  empty) restores it, and its views answer each written state.
"""

from __future__ import annotations

import asyncio
import time
import urllib.parse

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench import changelog
from bench.payloads import requests
from bench.preload import raw_records
from schemas.topicadmin import TopicPlan, ensure_topics
from schemas.topicnames import TABLES, TopicNames
from schemas.topicnames import changelog as changelog_topic
from tests.integration.pipeline import Pipeline

REQUESTS = 250  # 300 messages of the realistic mix, every provider
PARTITIONS = 8  # the worker's default


async def send_raw(bootstrap: str, names: TopicNames) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        source = requests(0)
        for _ in range(REQUESTS):
            for topic, key, value, headers in raw_records(next(source), names, changelog.RECEIVED_AT):
                await producer.send_and_wait(topic, value=value, key=key, headers=headers)
    finally:
        await producer.stop()


async def latest_records(
    bootstrap: str, topic: str, wanted: dict[bytes, bytes]
) -> dict[bytes, tuple[int, bytes]]:
    """The latest (partition, value) of each key in the changelog, read until it matches
    ``wanted`` or 60 s passed."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
        isolation_level="read_committed",
    )
    await consumer.start()
    latest: dict[bytes, tuple[int, bytes]] = {}
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and {k: v for k, (_, v) in latest.items()} != wanted:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    assert record.key is not None and record.value is not None
                    latest[record.key] = (record.partition, record.value)
    finally:
        await consumer.stop()
    return latest


def view_path(key: bytes) -> tuple[str, str]:
    provider, _, message_id = key.decode().partition(":")
    return provider, urllib.parse.quote(message_id, safe="")


def test_the_direct_changelog_is_what_the_worker_writes_and_a_fresh_worker_restores_it(
    fresh_pipeline: Pipeline,
) -> None:
    pipeline = fresh_pipeline
    expected = dict(changelog.states_of(0, REQUESTS))
    assert len(expected) == 300

    # the worker's own table writes, from the same raw callbacks
    pipeline.start_worker("processing")
    asyncio.run(send_raw(pipeline.bootstrap, pipeline.topics))
    for key, value in expected.items():
        pipeline.wait_view(*view_path(key), lambda found, v=value: found == changelog.rendered(v))
    app_id = pipeline.env()["CBSP_WORKER_APP_ID"]
    written = asyncio.run(latest_records(pipeline.bootstrap, changelog_topic(app_id, TABLES[0]), expected))
    assert {key: value for key, (_, value) in written.items()} == expected
    assert {key: partition for key, (partition, _) in written.items()} == {
        key: changelog.partition_of(key, PARTITIONS) for key in expected
    }

    # the same states written directly, restored by a fresh worker that processes nothing
    restoring_app = f"{app_id}-direct"
    empty = TopicNames(f"{pipeline.prefix}empty.")
    topic = changelog_topic(restoring_app, TABLES[0])
    changelogs = [changelog_topic(restoring_app, table) for table in TABLES]
    asyncio.run(ensure_topics(pipeline.bootstrap, empty, TopicPlan(PARTITIONS, 1), changelogs))
    asyncio.run(changelog.write(pipeline.bootstrap, {topic: len(expected)}, PARTITIONS))
    pipeline.start_worker(
        "restoring", CBSP_WORKER_APP_ID=restoring_app, CBSP_TOPIC_PREFIX=empty.prefix
    )  # returns once its views answer: the tables are restored
    for key, value in expected.items():
        response = pipeline.view(*view_path(key), worker=1)
        assert (response.status_code, response.json()) == (200, changelog.rendered(value)), key

"""The Confluent wire format, opt-in (docs/consumers.md, "Schema registry"), against the project's
real registry (Apicurio, ``cbsp registry``) and the real broker.

One worker writes with ``CBSP_SCHEMA_REGISTRY_URL`` set, another without, from the same raw
records: confluent-kafka's ``AvroDeserializer`` (a client none of us wrote) decodes every public
record of the first, and the records equal the second's. A registry that cannot be reached or
refuses a schema stops the worker with what to fix; a replay with the registry on emits nothing
new.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests
from aiokafka import AIOKafkaProducer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext
from fastavro import schemaless_writer
from fastavro.schema import parse_schema

import schemas
from bench.preload import mixed
from schemas.topicnames import PROVIDERS, TopicNames
from streams import batches, codecs
from streams.canonical import NormalizeOptions
from streams.schemaregistry import RegistrySettings, SchemaRegistry, public_subjects
from tests.cases import load_cases
from tests.integration.pipeline import ConsumedRecord, Pipeline, free_port, read_to_end

KINDS = ("status", "price", "click", "inbound")


def a_status_event() -> dict[str, Any]:
    """A real ``MessageStatusEvent`` record: the first the batch path makes of the benchmark's input."""
    records = [
        SimpleNamespace(topic=t, partition=0, offset=n, timestamp=None, key=k, value=v, headers=h)
        for n, (t, k, v, h) in enumerate(mixed(50, TopicNames("x.")))
    ]
    result = batches.process(records, {}.get, NormalizeOptions())
    return next(dict(new.event.record) for new in result.events if new.event.kind == "status")


class Pair:
    """The same raw records through a worker in each format."""

    def __init__(self, confluent: Pipeline, single: Pipeline, registry_url: str) -> None:
        self.confluent = confluent
        self.single = single
        self.registry_url = registry_url

    def public_topics(self, names: TopicNames) -> list[str]:
        return [*(names.event(kind) for kind in KINDS), names.state_message]


async def _copy(
    bootstrap: str, records: list[ConsumedRecord], source: TopicNames, target: TopicNames
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for r in records:
            topic = target.prefix + r.topic.removeprefix(source.prefix)
            await producer.send_and_wait(
                topic, r.value, key=r.key, partition=r.partition, headers=list(r.headers.items())
            )
    finally:
        await producer.stop()


def post_every_case(pipeline: Pipeline) -> None:
    for case in load_cases():
        if "callbacks" in case.spec:
            response = pipeline.post(case.provider, case.body_bytes(), case.content_type)
            assert response.status_code == 200, f"{case.id}: {response.status_code} {response.text}"


def wait_every_provider(pipeline: Pipeline) -> None:
    for provider in PROVIDERS:
        pipeline.wait_caught_up(provider)


@pytest.fixture(scope="module")
def pair(
    kafka_bootstrap: str, schema_registry_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pair]:
    confluent = Pipeline(kafka_bootstrap, tmp_path_factory.mktemp("confluent"))
    single = Pipeline(kafka_bootstrap, tmp_path_factory.mktemp("single"))
    try:
        confluent.start_worker(CBSP_SCHEMA_REGISTRY_URL=schema_registry_url)
        confluent.start_gateway()
        single.start_worker()
        post_every_case(confluent)
        wait_every_provider(confluent)
        raw = read_to_end(kafka_bootstrap, [confluent.topics.raw(p) for p in PROVIDERS])
        assert raw, "the gateway wrote no raw record"
        asyncio.run(_copy(kafka_bootstrap, raw, confluent.topics, single.topics))
        wait_every_provider(single)
        yield Pair(confluent, single, schema_registry_url)
    finally:
        confluent.stop()
        single.stop()


def comparable(record: dict[str, Any], prefix: str) -> str:
    """A decoded record as text, its raw source topic without the deployment's prefix."""
    if isinstance(record.get("source"), dict):
        record = {
            **record,
            "source": {**record["source"], "topic": record["source"]["topic"].removeprefix(prefix)},
        }
    return json.dumps(record, sort_keys=True, default=str)


def decoded(records: list[ConsumedRecord], decode: Any, prefix: str) -> dict[str, Any]:
    """Per topic (prefix removed): the events as a multiset, the states as the latest per key."""
    by_topic: dict[str, Any] = {}
    for r in sorted(records, key=lambda r: (r.topic, r.partition, r.offset)):
        topic = r.topic.removeprefix(prefix)
        record = decode(r)
        if topic.startswith("state."):
            by_topic.setdefault(topic, {})[r.key] = comparable(record, prefix)
        else:
            by_topic.setdefault(topic, Counter())[comparable(record, prefix)] += 1
    return by_topic


def test_a_stock_deserializer_reads_every_record_and_they_equal_the_single_object_run(
    pair: Pair, request: pytest.FixtureRequest
) -> None:
    confluent_records = read_to_end(pair.confluent.bootstrap, pair.public_topics(pair.confluent.topics))
    single_records = read_to_end(pair.single.bootstrap, pair.public_topics(pair.single.topics))
    client = SchemaRegistryClient({"url": pair.registry_url})
    request.addfinalizer(client.close)
    deserializer = AvroDeserializer(client)

    def stock(r: ConsumedRecord) -> Any:
        assert r.value is not None and r.value[:1] == b"\x00", f"{r.topic}@{r.offset} is not Confluent-framed"
        return deserializer(r.value, SerializationContext(r.topic, MessageField.VALUE))

    def ours(r: ConsumedRecord) -> Any:
        assert r.value is not None and r.value[:2] == codecs.MARKER
        return codecs.decode_message(r.value, r.headers.items())

    theirs = decoded(confluent_records, stock, pair.confluent.prefix)
    expected = decoded(single_records, ours, pair.single.prefix)

    assert set(theirs) == {f"events.{kind}.v1" for kind in KINDS} | {"state.message.v1"}
    assert theirs == expected
    assert all("schema-id" in r.headers and "schema-fingerprint" in r.headers for r in confluent_records)


def test_the_registered_subjects_are_the_documented_ones(pair: Pair) -> None:
    subjects = requests.get(f"{pair.registry_url}/subjects", timeout=10).json()

    ours = {s for s in subjects if s.startswith(pair.confluent.prefix)}
    assert ours == set(public_subjects(pair.confluent.topics))
    assert ours == {f"{topic}-value" for topic in pair.public_topics(pair.confluent.topics)}


def test_tail_decodes_the_confluent_format_with_and_without_the_registry(pair: Pair) -> None:
    for extra in ({"CBSP_SCHEMA_REGISTRY_URL": pair.registry_url}, {"CBSP_SCHEMA_REGISTRY_URL": ""}):
        result = subprocess.run(
            [sys.executable, "-m", "cbsp", "tail", "events.status.v1", "--from-beginning", "--limit", "3"],
            env=pair.confluent.env(**extra),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        lines = [json.loads(line) for line in result.stdout.splitlines()]
        assert len(lines) == 3 and all(line["schema"] == "cbsp.MessageStatusEvent" for line in lines), lines


def test_a_replay_with_the_registry_on_emits_each_event_once(pair: Pair) -> None:
    pipeline = pair.confluent
    before = read_to_end(pipeline.bootstrap, [pipeline.topics.event(kind) for kind in KINDS])

    result = pipeline.cbsp("replay", "--no-progress")

    assert result.returncode == 0, result.stderr
    read = int(re.search(r"(\d+) records read, (\d+) sent", result.stdout).group(2))  # type: ignore[union-attr]
    assert read > 0, result.stdout  # the raw callbacks went through the worker again
    pipeline.wait_caught_up(topic=pipeline.topics.replay)
    after = read_to_end(pipeline.bootstrap, [pipeline.topics.event(kind) for kind in KINDS])
    assert len(after) == len(before), "a replay of what the states hold emitted events again"


def run_worker_expecting_failure(pipeline: Pipeline, registry_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cbsp", "worker", "--processes", "1"],
        env=pipeline.env(
            CBSP_SCHEMA_REGISTRY_URL=registry_url,
            CBSP_WORKER_WEB_PORT=str(free_port()),
            CBSP_WORKER_DATA_DIR=str(pipeline.workdir / "refused"),
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_an_unreachable_registry_stops_the_worker_with_the_url(kafka_bootstrap: str, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/apis/ccompat/v7"

    result = run_worker_expecting_failure(Pipeline(kafka_bootstrap, tmp_path), url)

    assert result.returncode == 2
    assert f"schema registry {url}, subject" in result.stderr
    assert "cannot reach it" in result.stderr and "not started" in result.stderr


def test_a_schema_the_registry_refuses_stops_the_worker_with_its_answer(
    kafka_bootstrap: str, schema_registry_url: str, tmp_path: Path
) -> None:
    pipeline = Pipeline(kafka_bootstrap, tmp_path)
    subject = f"{pipeline.topics.event('status')}-value"
    # an earlier, incompatible version under the subject: our schema cannot read its records
    earlier = {
        "type": "record",
        "name": "MessageStatusEvent",
        "namespace": "cbsp",
        "fields": [{"name": "x", "type": "int"}],
    }
    registered = requests.post(
        f"{schema_registry_url}/subjects/{subject}/versions",
        json={"schema": json.dumps(earlier)},
        headers={"Content-Type": "application/vnd.schemaregistry.v1+json"},
        timeout=10,
    )
    assert registered.status_code == 200, registered.text

    result = run_worker_expecting_failure(pipeline, schema_registry_url)

    assert result.returncode == 2
    assert f"subject {subject}" in result.stderr and "answered HTTP 409" in result.stderr, result.stderr


def test_an_optional_field_makes_a_new_version_that_old_and_new_readers_read(
    schema_registry_url: str, request: pytest.FixtureRequest
) -> None:
    registry = SchemaRegistry(RegistrySettings(schema_registry_url))
    subject = f"t{uuid.uuid4().hex[:10]}.events.status.v1-value"
    v1 = schemas.self_contained("cbsp.MessageStatusEvent")
    v2 = {**v1, "fields": [*v1["fields"], {"name": "note", "type": ["null", "string"], "default": None}]}
    record = a_status_event()

    id1 = registry.register(subject, v1)
    id2 = registry.register(subject, v2)

    assert id2 != id1
    assert requests.get(f"{schema_registry_url}/subjects/{subject}/versions", timeout=10).json() == [1, 2]
    body = io.BytesIO()
    schemaless_writer(body, parse_schema(v2, named_schemas={}), {**record, "note": "new"})
    written_by_v2 = b"\x00" + id2.to_bytes(4, "big") + body.getvalue()
    client = SchemaRegistryClient({"url": schema_registry_url})
    request.addfinalizer(client.close)
    context = SerializationContext(subject.removesuffix("-value"), MessageField.VALUE)
    old_reader = AvroDeserializer(client, schema_str=json.dumps(v1))
    assert "note" not in old_reader(written_by_v2, context)
    assert old_reader(written_by_v2, context)["event_id"] == record["event_id"]
    name, ours = codecs.decode(written_by_v2, None, registry.writer_schema)  # a version we do not ship
    assert (name, ours["note"]) == ("cbsp.MessageStatusEvent", "new")

"""A Java service reads our topics: the example in examples/java-consumer (kafka-clients, Avro classes
generated from schemas/*.avsc) decodes every record the workers wrote, as the Python codec does.

The example is built here with Maven (``mvn -B -q package``) unless its jar is newer than its sources
and the schemas. Without ``java`` or ``mvn`` on PATH these tests fail; they never skip.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from cbsp import schemafiles
from schemas import dependency_order
from streams import codecs
from tests.cases import load_cases
from tests.integration.pipeline import Pipeline, read_to_end

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "java-consumer"
JAR = EXAMPLE / "target" / "cbsp-java-consumer.jar"
# requests whose events are of all four kinds, from all four providers (their states follow)
CASES = {
    "revicom/mixed_batch",  # status, price, click, inbound
    "revicom/price",
    "revicom/status_lifecycle_batch",
    "edna/inbound_location",  # doubles: latitude, longitude
    "fortytwo/reply_viber_cyrillic_emoji",
    "recessmobile/delivery_report_form_delivered",  # form-encoded
}
Where = tuple[str, int, int]  # topic, partition, offset


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"`{name}` is not on PATH: the Java consumer example needs a JDK (17+) and Maven (3.8+) "
            "to build and run (Debian: apt-get install openjdk-17-jdk-headless maven)",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="module")
def java_jar() -> Path:
    """The example's runnable jar, built unless it is newer than everything it is built from."""
    tool("java")  # a missing JDK fails here, before a build
    mvn = tool("mvn")
    sources = [EXAMPLE / "pom.xml", *(EXAMPLE / "src").rglob("*"), *(ROOT / "schemas").glob("*.avsc")]
    newest = max(path.stat().st_mtime for path in sources if path.is_file())
    if not JAR.exists() or JAR.stat().st_mtime <= newest:
        built = subprocess.run(
            [mvn, "-B", "-q", "package"], cwd=EXAMPLE, capture_output=True, text=True, timeout=900
        )
        assert built.returncode == 0, f"mvn package failed:\n{built.stdout[-6000:]}\n{built.stderr[-6000:]}"
    assert JAR.is_file(), f"mvn package made no {JAR}"
    return JAR


def run_java(
    jar: Path, bootstrap: str, topics: list[str], *options: str, trust_flag: bool = True
) -> tuple[int, dict[Where, Any], dict[str, Any], str]:
    """Run the example to its end; returns (exit code, {where: printed line}, summary, stderr)."""
    flags = ["-Dorg.apache.avro.SERIALIZABLE_PACKAGES=cbsp"] if trust_flag else []
    args = ["--bootstrap-servers", bootstrap, "--topics", ",".join(topics), "--idle-ms", "3000", *options]
    result = subprocess.run(
        [tool("java"), *flags, "-jar", str(jar), *args],
        capture_output=True,
        encoding="utf-8",
        timeout=180,
    )
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines and "summary" in lines[-1], f"no summary line; stdout {result.stdout!r}\n{result.stderr}"
    printed = {(line["topic"], line["partition"], line["offset"]): line for line in lines[:-1]}
    assert len(printed) == len(lines) - 1, "a record was printed twice"
    return result.returncode, printed, lines[-1]["summary"], result.stderr


def as_json(value: Any) -> Any:
    """A Python-decoded value in the example's JSON form: times RFC 3339 UTC (ms), decimals as
    fixed-point strings (``format(d, "f")``: scale 6 gives "0.000000", never "0E-6")."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return {key: as_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [as_json(item) for item in value]
    return value


def test_java_decodes_every_event_and_state_the_worker_wrote(pipeline: Pipeline, java_jar: Path) -> None:
    cases = [case for case in load_cases() if case.id in CASES]
    assert {case.id for case in cases} == CASES
    for case in cases:
        response = pipeline.post(case.provider, case.body_bytes(), case.content_type)
        assert response.status_code == 200, f"{case.id}: {response.text}"
    expected_events = {(e["kind"], e["record"]["event_id"]) for case in cases for e in case.spec["events"]}
    events = pipeline.consume(pipeline.topics.events_all(), count=len(expected_events), timeout_s=90)
    assert len(events) == len(expected_events), f"{len(events)} of {len(expected_events)} events came"
    for provider in {case.provider for case in cases}:
        pipeline.wait_caught_up(provider)  # exactly-once: the states are committed with the offsets
    topics = [*pipeline.topics.events_all(), pipeline.topics.state_message]

    raw = {(r.topic, r.partition, r.offset): r for r in read_to_end(pipeline.bootstrap, topics)}
    python = {where: codecs.decode_message(r.value or b"", r.headers.items()) for where, r in raw.items()}
    group = f"java-{uuid.uuid4().hex}"
    code, java, summary, stderr = run_java(java_jar, pipeline.bootstrap, topics, "--group-id", group)

    assert code == 0, f"the Java consumer failed ({code}):\n{stderr}"
    assert {topic for topic, _, _ in python} == set(topics), (
        "not every kind of event (or no state) was written"
    )
    assert set(java) == set(python)
    for topic in topics:
        count = sum(1 for t, _, _ in python if t == topic)
        assert summary[topic] == {"decoded": count, "failed": 0}
    for where, record in python.items():
        assert java[where]["key"] == raw[where].key.decode()
        printed = java[where]["record"]
        for field in ("event_id", "message_key", "provider", "status", "price", "currency"):
            assert printed.get(field) == as_json(record.get(field)), f"{where} {field}: {printed}"
        assert printed == as_json(record), where
    schemas = {
        t.removeprefix(pipeline.prefix): {java[w]["schema"] for w in java if w[0] == t} for t in topics
    }
    assert schemas == {
        "events.status.v1": {"cbsp.MessageStatusEvent"},
        "events.price.v1": {"cbsp.MessagePriceEvent"},
        "events.click.v1": {"cbsp.LinkClickEvent"},
        "events.inbound.v1": {"cbsp.InboundMessageEvent"},
        "state.message.v1": {"cbsp.MessageState"},
    }

    # the group committed what it printed: its next run has nothing new
    code, again, summary, stderr = run_java(java_jar, pipeline.bootstrap, topics, "--group-id", group)
    assert (code, again) == (0, {}), stderr
    assert summary == {topic: {"decoded": 0, "failed": 0} for topic in topics}


NOW = datetime(2024, 3, 5, 12, 0, tzinfo=UTC)
SOURCE = {"topic": "callbacks.raw.revicom", "partition": 3, "offset": 1234}
COMMON = {"message_key": "revicom:java-1", "provider": "revicom", "provider_message_id": "java-1"}
STATUS = {
    **COMMON,
    "event_id": "status-1",
    "channel": "SMS",
    "occurred_at": NOW,
    "received_at": NOW,
    "source": SOURCE,
    "status": "DELIVERED",
    "status_rank": 50,
    "is_final": True,
    "provider_status": "delivered",
}
PRICE = {**COMMON, "event_id": "price-1", "occurred_at": NOW, "received_at": NOW, "source": SOURCE}
PRICE |= {"price": Decimal("0.000000"), "currency": "EUR", "parts": 2}
STATE = {
    **COMMON,
    "status": {
        "status": "DELIVERED",
        "rank": 50,
        "is_final": True,
        "provider_status": "delivered",
        "error_code": None,
        "at": NOW,
        "event_id": "status-1",
    },
    "price": {
        "amount": Decimal("12.345678"),
        "currency": "EUR",
        "parts": 2,
        "at": NOW,
        "event_id": "price-1",
    },
    "click_count": 0,
    "short_urls": [],
    "inbound_count": 0,
    "first_event_at": NOW,
    "last_event_at": NOW,
    "event_count": 2,
    "conflict": False,
}


def single_object(name: str, record: dict[str, Any]) -> bytes:
    return codecs.encode(name, record)


def confluent(name: str, record: dict[str, Any], schema_id: int = 7) -> bytes:
    return codecs.WireFormat({codecs.full_name(name): schema_id}).frame(name, codecs.encode(name, record))


def headers(name: str, fingerprint: str | None = None) -> list[tuple[str, bytes]]:
    """The ``content-type`` and ``schema`` headers, and ``schema-fingerprint`` when given."""
    found = [("content-type", codecs.CONTENT_TYPE.encode()), ("schema", codecs.full_name(name).encode())]
    return found + ([] if fingerprint is None else [("schema-fingerprint", fingerprint.encode())])


def fingerprint(name: str) -> str:
    return codecs.schema(name).fingerprint.hex()


async def produce(
    bootstrap: str, topic: str, records: list[tuple[bytes | None, list[tuple[str, bytes]]]]
) -> None:
    """``records`` (value, headers) at offsets 0, 1, ... of a new one-partition topic."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for value, record_headers in records:
            await producer.send_and_wait(
                topic, value, key=b"revicom:java-1", partition=0, headers=record_headers
            )
    finally:
        await producer.stop()


def test_java_reads_both_wire_formats_with_and_without_the_fingerprint_header(
    kafka_bootstrap: str, java_jar: Path
) -> None:
    topic = f"t{uuid.uuid4().hex[:10]}.java.formats"
    records: list[tuple[bytes | None, list[tuple[str, bytes]]]] = [
        (
            confluent("MessageStatusEvent", STATUS),
            headers("MessageStatusEvent", fingerprint("MessageStatusEvent")),
        ),
        (confluent("MessagePriceEvent", PRICE), headers("MessagePriceEvent")),  # before the header existed
        (single_object("MessageState", STATE), []),  # no headers: the class by the fingerprint
        (single_object("MessageStatusEvent", STATUS), headers("MessageStatusEvent")),
        (None, []),  # a tombstone, as a compacted topic may hold
    ]
    asyncio.run(produce(kafka_bootstrap, topic, records))

    code, java, summary, stderr = run_java(java_jar, kafka_bootstrap, [topic])

    assert code == 0, stderr
    assert summary == {topic: {"decoded": 5, "failed": 0}}
    expected = [
        ("cbsp.MessageStatusEvent", STATUS),
        ("cbsp.MessagePriceEvent", PRICE),
        ("cbsp.MessageState", STATE),
        ("cbsp.MessageStatusEvent", STATUS),
    ]
    for offset, (name, record) in enumerate(expected):
        line = java[(topic, 0, offset)]
        assert line["schema"] == name
        assert line["record"] == as_json(codecs.decode(single_object(name, record))[1])
    assert java[(topic, 0, 4)]["record"] is None
    assert java[(topic, 0, 1)]["record"]["price"] == "0.000000"
    assert java[(topic, 0, 2)]["record"]["price"]["amount"] == "12.345678"
    assert java[(topic, 0, 0)]["record"]["occurred_at"] == "2024-03-05T12:00:00.000Z"


def test_java_reports_each_value_it_cannot_decode_and_exits_1(kafka_bootstrap: str, java_jar: Path) -> None:
    topic = f"t{uuid.uuid4().hex[:10]}.java.refused"
    unknown = bytearray(single_object("MessageStatusEvent", STATUS))
    unknown[2] ^= 0xFF  # another writer schema's fingerprint
    records: list[tuple[bytes | None, list[tuple[str, bytes]]]] = [
        (
            confluent("MessageStatusEvent", STATUS),
            headers("MessageStatusEvent", fingerprint("MessagePriceEvent")),
        ),
        (b'{"status": "DELIVERED"}', [("schema", b"cbsp.MessageStatusEvent")]),
        (bytes(unknown), headers("MessageStatusEvent")),
        (single_object("MessagePriceEvent", PRICE), headers("MessageStatusEvent")),
        (confluent("MessageStatusEvent", STATUS), []),  # no schema header: only a registry knows
        (single_object("MessageStatusEvent", STATUS), headers("MessageStatusEvent")),  # and it goes on
    ]
    asyncio.run(produce(kafka_bootstrap, topic, records))

    # without -Dorg.apache.avro.SERIALIZABLE_PACKAGES: the example trusts its generated classes itself
    code, java, summary, stderr = run_java(java_jar, kafka_bootstrap, [topic], trust_flag=False)

    assert code == 1
    assert summary == {topic: {"decoded": 1, "failed": 5}}
    assert set(java) == {(topic, 0, 5)}
    failures = [line for line in stderr.splitlines() if line.startswith("decode failed:")]
    assert [line.split(":", 2)[1].strip() for line in failures] == [
        f"topic={topic} partition=0 offset={offset}" for offset in range(5)
    ]
    reasons = [line.split(":", 2)[2] for line in failures]
    generated = f"the generated cbsp.MessageStatusEvent ({fingerprint('MessageStatusEvent')})"
    assert f"is not the fingerprint of {generated}" in reasons[0]
    assert "neither Avro single-object encoding" in reasons[1] and "7b227374" in reasons[1]
    assert f"unknown writer schema fingerprint {bytes(unknown[2:10]).hex()}" in reasons[2]
    assert "but the value was written with cbsp.MessagePriceEvent" in reasons[3]
    assert "Confluent wire format (schema id 7) without a schema header" in reasons[4]


def load_schemas(jar: Path, *files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("java"), "-cp", str(jar), "com.example.cbsp.consumer.LoadSchemas", *map(str, files)],
        capture_output=True,
        encoding="utf-8",
        timeout=60,
    )


def test_java_loads_the_schemas_in_one_call_from_the_bundle_or_in_the_printed_order(
    java_jar: Path, tmp_path: Path
) -> None:
    """A generic Java consumer with the classic Schema.Parser: `cbsp schemas --bundle` parses in one
    call; the files `cbsp schemas DIR` writes parse in the order it prints; in name order they do not."""
    expected = sorted(codecs.schema_set().by_name)
    bundle = tmp_path / "cbsp.avsc"
    assert schemafiles.main(["--bundle", str(bundle)]) == 0
    files = [tmp_path / "avsc" / path.name for path in dependency_order()]
    assert schemafiles.main([str(tmp_path / "avsc")]) == 0

    from_bundle = load_schemas(java_jar, bundle)
    in_printed_order = load_schemas(java_jar, *files)
    in_name_order = load_schemas(java_jar, *sorted(files))

    assert from_bundle.returncode == 0, from_bundle.stderr
    assert from_bundle.stdout.split() == expected
    assert in_printed_order.returncode == 0, in_printed_order.stderr
    assert in_printed_order.stdout.split() == expected
    assert in_name_order.returncode == 1
    assert "Undefined schema: cbsp.SourceRef" in in_name_order.stderr

"""streams.outbox against the real broker: records handed over as record batches land where the
producer's own partitioner puts them, in order, each once, inside a transaction as outside, and
a record too large for a batch is refused with the topic's name."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.partitioner import DefaultPartitioner

from streams.batches import Output
from streams.errors import OutputError
from streams.outbox import Outbox

PARTITIONS = 8
BATCH_BYTES = 16_384  # small, so that a partition's records fill several batches


async def create(bootstrap: str, *topics: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, PARTITIONS, 1) for topic in topics])
    finally:
        await admin.close()


async def read_all(bootstrap: str, topic: str, count: int) -> list[tuple[int, bytes, bytes]]:
    """(partition, key, value) of the first ``count`` committed records, in offset order per partition."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, isolation_level="read_committed", auto_offset_reset="earliest"
    )
    await consumer.start()
    found: list[tuple[int, bytes, bytes]] = []
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(PARTITIONS)])
        async with asyncio.timeout(60):
            while len(found) < count:
                batches = await consumer.getmany(timeout_ms=1000)
                for tp, records in batches.items():
                    found.extend((tp.partition, r.key, r.value) for r in records)
    finally:
        await consumer.stop()
    return found


def outputs(topic: str, count: int) -> list[Output]:
    return [
        Output(topic, b"edna:msg-%d" % (n % 300), b"value-%06d-" % n + b"x" * 200, [("n", b"%d" % n)], None)
        for n in range(count)
    ]


async def send_through_outbox(bootstrap: str, topic: str, records: list[Output], transactional: bool) -> int:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        max_batch_size=BATCH_BYTES,
        transactional_id=f"outbox-{topic}" if transactional else None,
    )
    await producer.start()
    try:
        if transactional:
            await producer.begin_transaction()
        sent = await Outbox(producer).send(records)
        await asyncio.gather(*(batch.delivered for batch in sent))
        if transactional:
            await producer.commit_transaction()
    finally:
        await producer.stop()
    assert sum(batch.records for batch in sent) == len(records)
    return len(sent)


@pytest.mark.parametrize("transactional", [False, True], ids=["plain", "transaction"])
def test_records_land_where_the_partitioner_puts_them_in_order_once(
    kafka_bootstrap: str, transactional: bool
) -> None:
    topic = f"t{uuid.uuid4().hex[:10]}.outbox"
    asyncio.run(create(kafka_bootstrap, topic))
    records = outputs(topic, 3_000)

    handed = asyncio.run(send_through_outbox(kafka_bootstrap, topic, records, transactional))
    found = asyncio.run(read_all(kafka_bootstrap, topic, len(records)))

    assert handed > PARTITIONS  # the small batches filled, and went on in new ones
    assert sorted(value for _, _, value in found) == sorted(r.value for r in records)  # each once
    partitioner = DefaultPartitioner()
    per_partition: dict[int, list[bytes]] = defaultdict(list)
    for partition, key, value in found:
        assert partition == partitioner(key, list(range(PARTITIONS)), list(range(PARTITIONS))), key
        per_partition[partition].append(value)
    for partition, values in per_partition.items():
        sent_order = [r.value for r in records if r.value in set(values)]
        assert values == sent_order, f"partition {partition} out of order"


def test_an_explicit_partition_is_kept(kafka_bootstrap: str) -> None:
    topic = f"t{uuid.uuid4().hex[:10]}.outbox"
    asyncio.run(create(kafka_bootstrap, topic))
    records = [Output(topic, b"k%d" % n, b"v%d" % n, None, 5) for n in range(50)]

    asyncio.run(send_through_outbox(kafka_bootstrap, topic, records, transactional=False))
    found = asyncio.run(read_all(kafka_bootstrap, topic, len(records)))

    assert {partition for partition, _, _ in found} == {5}
    assert [value for _, _, value in found] == [r.value for r in records]


def test_a_record_larger_than_a_batch_goes_alone_in_one(kafka_bootstrap: str) -> None:
    topic = f"t{uuid.uuid4().hex[:10]}.outbox"
    asyncio.run(create(kafka_bootstrap, topic))
    large = b"x" * (3 * BATCH_BYTES)
    records = [Output(topic, b"k", b"small", None, 0), Output(topic, b"k", large, None, 0)]

    handed = asyncio.run(send_through_outbox(kafka_bootstrap, topic, records, transactional=False))
    found = asyncio.run(read_all(kafka_bootstrap, topic, len(records)))

    assert handed == 2
    assert [value for _, _, value in found] == [b"small", large]


def test_a_record_over_the_request_size_is_refused_with_its_topic(kafka_bootstrap: str) -> None:
    topic = f"t{uuid.uuid4().hex[:10]}.outbox"
    asyncio.run(create(kafka_bootstrap, topic))
    records = [Output(topic, b"k", b"small", None, 0), Output(topic, b"k", b"x" * 1_100_000, None, 0)]

    with pytest.raises(
        OutputError, match=rf"^{topic}: a record of 1100\d+ bytes is larger than the producer's"
    ):
        asyncio.run(send_through_outbox(kafka_bootstrap, topic, records, transactional=False))

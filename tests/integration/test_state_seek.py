"""The seek after a rebalance (streams.eos.seek_to_committed) against a real broker: a
partition goes back to its committed offset, and one without a committed offset to its
beginning, so that the events dropped at the rebalance are delivered again."""

from __future__ import annotations

import asyncio
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import OffsetAndMetadata

from streams.eos import seek_to_committed


async def positions_after_the_seek(bootstrap: str, offset_reset: str) -> dict[int, int]:
    """Partitions 0 and 1 hold 5 records each; the group committed 3 on partition 1 only. A
    consumer of the group reads all 10, then seeks."""
    topic = f"t{uuid.uuid4().hex[:10]}.seek"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 2, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for partition in (0, 1):
            for n in range(5):
                await producer.send_and_wait(topic, b"%d" % n, partition=partition)
    finally:
        await producer.stop()
    partitions = [TopicPartition(topic, 0), TopicPartition(topic, 1)]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=f"g-{topic}",
        enable_auto_commit=False,
        auto_offset_reset=offset_reset,
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.commit({partitions[1]: OffsetAndMetadata(3, "")})
        await consumer.seek_to_beginning(*partitions)
        read = 0
        while read < 10:
            batches = await consumer.getmany(timeout_ms=1000)
            read += sum(len(records) for records in batches.values())
        committed = await seek_to_committed(consumer, offset_reset)
        assert committed == {partitions[0]: None, partitions[1]: 3}
        return {tp.partition: await consumer.position(tp) for tp in partitions}
    finally:
        await consumer.stop()


def test_a_partition_without_a_committed_offset_is_read_again_from_the_beginning(
    kafka_bootstrap: str,
) -> None:
    # aiokafka's own seek left partition 0 at 5: the records dropped at a rebalance were lost
    assert asyncio.run(positions_after_the_seek(kafka_bootstrap, "earliest")) == {0: 0, 1: 3}


def test_under_latest_a_partition_without_a_committed_offset_stays_where_it_is(kafka_bootstrap: str) -> None:
    assert asyncio.run(positions_after_the_seek(kafka_bootstrap, "latest")) == {0: 5, 1: 3}

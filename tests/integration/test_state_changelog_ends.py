"""Where the committed data of a transactional partition ends (what a table restore reads up
to): before the commit marker, before an aborted transaction, and for plain records."""

from __future__ import annotations

import asyncio
import uuid
from collections import namedtuple

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streams.faustpatches.changelogends import data_ends

TP = namedtuple("TP", "topic partition")  # the shape of Faust's TP


async def write(bootstrap: str, topic: str) -> None:
    """Partition 0: 3 records in a committed transaction, then 2 in an aborted one.
    Partition 1: 4 records without a transaction. Partition 2: nothing."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 3, 1)])
    finally:
        await admin.close()
    transactional = AIOKafkaProducer(bootstrap_servers=bootstrap, transactional_id=f"test-{topic}")
    plain = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await transactional.start()
    await plain.start()
    try:
        async with transactional.transaction():
            for n in range(3):
                await transactional.send(topic, b"committed", key=b"%d" % n, partition=0)
        await transactional.begin_transaction()
        for n in range(2):
            await transactional.send(topic, b"aborted", key=b"%d" % n, partition=0)
        await transactional.abort_transaction()
        for n in range(4):
            await plain.send_and_wait(topic, b"plain", key=b"%d" % n, partition=1)
    finally:
        await transactional.stop()
        await plain.stop()


async def ends_of(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, isolation_level="read_committed")
    await consumer.start()
    try:
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in range(3)])
    finally:
        await consumer.stop()
    found = await data_ends([bootstrap], {TP(tp.topic, tp.partition): end for tp, end in ends.items()})
    return {tp.partition: end for tp, end in found.items()}


def test_the_data_ends_before_markers_and_aborted_records(kafka_bootstrap: str) -> None:
    topic = f"t{uuid.uuid4().hex[:10]}.ends"
    asyncio.run(write(kafka_bootstrap, topic))

    ends = asyncio.run(ends_of(kafka_bootstrap, topic))

    # 0: records at 0..2, commit marker 3, aborted 4..5, abort marker 6: the data ends at 3
    assert ends == {0: 3, 1: 4, 2: 0}

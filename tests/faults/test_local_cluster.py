"""The three-node local cluster itself: it forms, replicates every partition three times,
goes on taking acks=all writes with one node killed or stopped, and takes the node back."""

from __future__ import annotations

import asyncio
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from cbsp.localcluster import LocalCluster, live_brokers


def test_three_nodes_form_one_cluster_that_survives_losing_one(cluster: LocalCluster) -> None:
    topic = f"cluster-{uuid.uuid4().hex[:8]}"
    assert asyncio.run(live_brokers(cluster.bootstrap_servers)) == [1, 2, 3]
    replicas = asyncio.run(create_topic(cluster.bootstrap_servers, topic))
    assert replicas == {partition: ([1, 2, 3], 3) for partition in range(3)}  # (replicas, in sync)

    written = [asyncio.run(produce(cluster.bootstrap_servers, topic, b"all three up"))]
    assert cluster.node(2).kill()
    cluster.wait_registered(nodes=2)
    assert asyncio.run(live_brokers(cluster.bootstrap_servers)) == [1, 3]
    written.append(asyncio.run(produce(cluster.bootstrap_servers, topic, b"node 2 killed")))

    assert cluster.start() == [2]  # only the killed node is started again
    assert asyncio.run(live_brokers(cluster.bootstrap_servers)) == [1, 2, 3]
    assert cluster.node(3).stop()
    cluster.wait_registered(nodes=2)
    written.append(asyncio.run(produce(cluster.bootstrap_servers, topic, b"node 3 stopped")))
    assert cluster.start() == [3]

    assert asyncio.run(read_all(cluster.bootstrap_servers, topic, len(written))) == written


async def create_topic(bootstrap: str, topic: str) -> dict[int, tuple[list[int], int]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 3, 3, topic_configs={"min.insync.replicas": "2"})])
        for _ in range(50):
            (described,) = await admin.describe_topics([topic])
            if described["error_code"] == 0 and len(described["partitions"]) == 3:
                break
            await asyncio.sleep(0.2)
    finally:
        await admin.close()
    return {p["partition"]: (sorted(p["replicas"]), len(p["isr"])) for p in described["partitions"]}


async def produce(bootstrap: str, topic: str, value: bytes) -> bytes:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, request_timeout_ms=30000
    )
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, partition=0)
    finally:
        await producer.stop()
    return value


async def read_all(bootstrap: str, topic: str, count: int) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    values: list[bytes] = []
    try:
        deadline = asyncio.get_running_loop().time() + 30
        while len(values) < count and asyncio.get_running_loop().time() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                values += [record.value or b"" for record in records]
    finally:
        await consumer.stop()
    return values

"""One broker of a three-node cluster killed (SIGKILL) in the middle of a steady load of
callbacks: no callback the gateway acknowledged is lost, and the worker goes on processing.

Topics have replication factor 3 and min.insync.replicas 2, the gateway produces with
acks=all, so an acknowledged record is on at least two brokers and survives any one. The
ground truth is what the gateway acknowledged (request id and callbacks, recorded by the
load) and the views the pure merge rules give for those callbacks, computed here.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from cbsp.localcluster import LocalCluster, live_brokers
from tests.faults.load import CallbackLoad, batched, missing_from_raw
from tests.integration.groundtruth import (
    answers_as_expected,
    emitted_event_ids,
    expected_views,
    histories,
    message_keys,
    sent_event_ids,
    state_chains,
)
from tests.integration.pipeline import Pipeline

REPLICATED = {"CBSP_PARTITIONS": "4", "CBSP_REPLICATION_FACTOR": "3", "CBSP_MIN_INSYNC_REPLICAS": "2"}


@pytest.fixture
def replicated_pipeline(cluster: LocalCluster, tmp_path: Path) -> Iterator[Pipeline]:
    """A worker and a gateway on the cluster (all three bootstrap servers), topics replicated."""
    pipeline = Pipeline(cluster.bootstrap_servers, tmp_path)
    try:
        pipeline.start_worker(**REPLICATED)
        pipeline.start_gateway()
        yield pipeline
    finally:
        pipeline.stop()


def test_a_broker_killed_under_load_loses_no_acknowledged_callback(
    cluster: LocalCluster, replicated_pipeline: Pipeline
) -> None:
    pipeline = replicated_pipeline
    load = CallbackLoad(pipeline, batched(histories(90, seed=7), size=3), pause_s=0.05)
    victim = leader_of(cluster, pipeline.topics.raw("revicom"), partition=0)
    load.start()
    load.wait_acknowledged(len(load.batches) // 3)

    assert cluster.node(victim).kill()  # leader of a raw partition the gateway writes to
    acknowledged_at_kill = len(load.acknowledged)
    load.join(timeout_s=150)  # every batch acknowledged in the end, with one broker dead

    survivors = sorted({1, 2, 3} - {victim})
    assert asyncio.run(live_brokers(cluster.bootstrap_servers)) == survivors
    assert missing_from_raw(pipeline, load.acknowledged) == []
    callbacks = load.callbacks()
    expected = expected_views(callbacks)
    answers_as_expected(pipeline.worker_urls, expected, timeout_s=120)
    assert pipeline.process("worker").poll() is None, pipeline.log_tail("worker")
    after_kill = message_keys(load.callbacks(since=acknowledged_at_kill))
    assert len(after_kill) > len(message_keys(callbacks)) // 2  # most views need work done after the kill

    pipeline.wait_caught_up()  # the views change before the transaction commits: now its events are out
    emitted = emitted_event_ids(pipeline, callbacks, count=len(callbacks) + 1)
    assert set(emitted) == set(sent_event_ids(callbacks))  # none lost, none invented
    assert state_chains(pipeline, message_keys(callbacks), expected) == "every state emitted once, in order"
    print(
        f"broker {victim} killed after {acknowledged_at_kill} of {len(load.batches)} requests; "
        f"refused attempts: {dict(load.refusals)}; events: {sum(emitted.values())} "
        f"for {len(callbacks)} callbacks ({duplicates(emitted, sent_event_ids(callbacks))} redelivered)"
    )


def leader_of(cluster: LocalCluster, topic: str, partition: int) -> int:
    async def describe() -> int:
        admin = AIOKafkaAdminClient(bootstrap_servers=cluster.bootstrap_servers)
        await admin.start()
        try:
            (described,) = await admin.describe_topics([topic])
        finally:
            await admin.close()
        (found,) = [p for p in described["partitions"] if p["partition"] == partition]
        return int(found["leader"])

    return asyncio.run(describe())


def duplicates(emitted: Counter[str], sent: Counter[str]) -> int:
    return sum((emitted - sent).values())

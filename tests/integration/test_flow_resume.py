"""A raw partition fetched whole while the flow was stopped (a rebalance: the records reach the
batch path before the flow resumes, and are dropped) is read again once the flow resumes: the
worker does not wait for records that never come (the two-worker stall, CHANGELOG).

The worker runs with ``late_flow`` on its path: the first batch of each raw partition is dropped
unprocessed, and Faust's seek to the committed offsets runs after it, as when the flow resumes.
The backlog is small, so that each partition comes in one fetch: nothing else would bring the
worker back to it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from bench.preload import preload
from tests.integration.pipeline import Pipeline

LATE_FLOW = str(Path(__file__).parent / "late_flow")
BACKLOG = 400
PROVIDERS = ("revicom", "recessmobile", "fortytwo", "edna")


def test_partitions_fetched_before_the_flow_resumed_are_read_again(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    pipeline = Pipeline(kafka_bootstrap, tmp_path)
    flag = tmp_path / "late-flow"
    flag.touch()
    try:
        pipeline.create_topics(partitions=8)
        assert asyncio.run(preload(kafka_bootstrap, pipeline.topics, BACKLOG)) == BACKLOG
        pipeline.start_worker("w", PYTHONPATH=LATE_FLOW, CBSP_TEST_LATE_FLOW_FILE=str(flag))
        for provider in PROVIDERS:
            pipeline.wait_caught_up(provider, timeout_s=90)
        log = pipeline.log_tail("w", 1_000_000)
        dropped = [line for line in log.splitlines() if "late_flow: dropped" in line]
        assert len(dropped) >= 8, log[-3000:]  # one per partition fetched, at least one topic's all
        # each dropped batch was processed after all: the group committed every record
    finally:
        pipeline.stop()

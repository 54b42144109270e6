"""A raw record lost on its way to the agent, as a rebalance can lose one, is read again and
processed: its partition is not held back for good, and nothing is committed past it.

The worker runs with ``lossy_stream`` on its path, which drops the listed records once, unprocessed,
exactly where ``streams.faustpatches.transport`` drops an event taken before a rebalance.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.integration.groundtruth import answers_as_expected, expected_views, histories
from tests.integration.pipeline import Pipeline

LOSSY = str(Path(__file__).parent / "lossy_stream")
READ_AGAIN = "raw records missing from a fetched batch, reading the partition again from the first one"


@pytest.fixture(scope="module")
def lossy(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Pipeline, Path]]:
    pipeline = Pipeline(kafka_bootstrap, tmp_path_factory.mktemp("holes"))
    losses = pipeline.workdir / "lose.json"
    try:
        pipeline.start_worker("w", PYTHONPATH=LOSSY, CBSP_TEST_LOSE_FILE=str(losses))
        pipeline.start_gateway()
        yield pipeline, losses
    finally:
        pipeline.stop()


def read_again_lines(pipeline: Pipeline) -> list[str]:
    return [line for line in pipeline.log_tail("w", 100_000).splitlines() if READ_AGAIN in line]


def test_records_lost_at_the_start_of_partitions_never_committed_are_read_again(
    lossy: tuple[Pipeline, Path],
) -> None:
    pipeline, losses = lossy
    losses.write_text(json.dumps({"1": [0, 1, 2], "4": [0]}))  # 4: one record, which Faust would pass
    callbacks = histories(40, seed=5)
    pipeline.post_all(callbacks)

    answers_as_expected(pipeline.worker_urls, expected_views(callbacks))
    pipeline.wait_caught_up(timeout_s=60)
    log = pipeline.log_tail("w", 100_000)
    for partition, offset in ((1, 0), (1, 2), (4, 0)):
        assert f"lossy_stream: lost partition={partition} offset={offset}" in log
    mended = " ".join(read_again_lines(pipeline))
    assert "partition=1 missing_from=0 fetched_next=3" in mended
    assert "partition=4 missing_from=0 fetched_next=1" in mended
    metrics = requests.get(f"{pipeline.worker_urls[0]}/metrics", timeout=5).text
    raw_topic = pipeline.topics.raw("revicom")
    assert f'cbsp_worker_partitions_read_again_total{{topic="{raw_topic}"}} 2.0' in metrics


def test_records_lost_after_the_committed_offset_are_read_again(lossy: tuple[Pipeline, Path]) -> None:
    pipeline, losses = lossy
    pipeline.wait_caught_up(timeout_s=60)
    ends = pipeline.raw_ends()
    before = len(read_again_lines(pipeline))
    losses.write_text(json.dumps({"2": [ends[2], ends[2] + 1], "6": [ends[6] + 2]}))
    callbacks = histories(40, seed=6)
    pipeline.post_all(callbacks)

    answers_as_expected(pipeline.worker_urls, expected_views(callbacks))
    pipeline.wait_caught_up(timeout_s=60)
    log = pipeline.log_tail("w", 100_000)
    assert f"lossy_stream: lost partition=2 offset={ends[2] + 1}" in log
    assert f"lossy_stream: lost partition=6 offset={ends[6] + 2}" in log
    mended = " ".join(read_again_lines(pipeline)[before:])
    assert f"partition=2 missing_from={ends[2]} fetched_next={ends[2] + 2}" in mended
    assert f"partition=6 missing_from={ends[6] + 2} fetched_next={ends[6] + 3}" in mended

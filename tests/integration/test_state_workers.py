"""Two workers on one machine, one consumer group (own data dirs and web ports): every view
answers the same from either worker, through a stop, a rebuild from the changelog, and a
SIGKILL in the middle of the stream, and always the state the merge rules give.

Each test starts and ends with both workers running.
"""

from __future__ import annotations

import shutil
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiokafka.partitioner import murmur2

from tests.integration.groundtruth import (
    answers_as_expected,
    emitted_event_ids,
    expected_views,
    histories,
    message_keys,
    sent_event_ids,
    state_chains,
)
from tests.integration.pipeline import Pipeline, get_json, signal_worker, wait_group

PARTITIONS = 8
WORKER_ENV = {"CBSP_WORKER_SESSION_TIMEOUT_S": "6"}  # a killed worker's partitions move after 6 s


@dataclass
class Workers:
    pipeline: Pipeline
    urls: dict[str, str] = field(default_factory=dict)

    def start(self, name: str) -> None:
        self.urls[name] = self.pipeline.start_worker(name, **WORKER_ENV)

    def stop(self, name: str, sig: int = signal.SIGTERM) -> None:
        signal_worker(self.pipeline, name, self.urls.pop(name), sig)

    def running(self) -> list[str]:
        return list(self.urls.values())

    def settle(self) -> None:
        wait_group(self.running())


@pytest.fixture(scope="module")
def workers(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workers]:
    pipeline = Pipeline(kafka_bootstrap, tmp_path_factory.mktemp("workers"))
    try:
        running = Workers(pipeline)
        running.start("w1")
        running.start("w2")
        pipeline.start_gateway()
        running.settle()
        yield running
    finally:
        pipeline.stop()


# -- what the workers are sent, and what they must answer -----------------------------------


def partitions_of(callbacks: list[dict[str, Any]]) -> set[int]:
    return {(murmur2(key) & 0x7FFFFFFF) % PARTITIONS for key in message_keys(callbacks)}


# -- the tests -------------------------------------------------------------------------------


def test_every_view_answers_the_same_from_either_worker_and_after_one_stops(workers: Workers) -> None:
    callbacks = histories(60, seed=1)
    expected = expected_views(callbacks)
    assert partitions_of(callbacks) == set(range(PARTITIONS))  # spread over all partitions, both workers
    assert sum(path.startswith("/cascades/") for path in expected) == 7

    workers.pipeline.post_all(callbacks)
    answers_as_expected(workers.running(), expected)

    workers.stop("w2")
    answers_as_expected(workers.running(), expected)  # w1 took over w2's partitions

    workers.start("w2")
    workers.settle()
    answers_as_expected(workers.running(), expected)


def test_partitions_that_come_back_to_a_worker_are_processed_and_committed_there(
    workers: Workers,
) -> None:
    """w2's partitions were w1's when the group started; w2 stops and they return to w1, whose
    commits for them must go through (a stale, fenced producer used to crash w1 here)."""
    workers.stop("w2")
    callbacks = histories(40, seed=4)
    assert partitions_of(callbacks) == set(range(PARTITIONS))
    workers.pipeline.post_all(callbacks)
    answers_as_expected(workers.running(), expected_views(callbacks))
    workers.pipeline.wait_caught_up()  # w1 committed every partition

    workers.start("w2")
    workers.settle()
    assert workers.pipeline.process("w1").poll() is None, workers.pipeline.log_tail("w1")


def test_a_worker_restarted_without_its_data_rebuilds_its_tables_from_the_changelog(
    workers: Workers,
) -> None:
    callbacks = histories(40, seed=2)
    expected = expected_views(callbacks)
    workers.pipeline.post_all(callbacks)
    answers_as_expected(workers.running(), expected)

    workers.stop("w2")
    shutil.rmtree(workers.pipeline.workdir / "w2" / "data")
    workers.pipeline.wait_caught_up()  # nothing left to process: states can only come from changelogs
    workers.start("w2")
    workers.settle()
    answers_as_expected(workers.running(), expected)
    workers.stop("w1")  # now w2 alone answers for every key, all restored from the changelogs
    answers_as_expected(workers.running(), expected)

    workers.start("w1")
    workers.settle()


def test_a_worker_killed_mid_stream_loses_nothing_and_doubles_nothing(workers: Workers) -> None:
    callbacks = histories(200, seed=3)
    expected = expected_views(callbacks)
    keys = message_keys(callbacks)
    half = len(callbacks) // 2
    workers.pipeline.post_all(callbacks[:half])

    wait_some_processed(workers, [p for p in expected if p.startswith("/messages/")])
    discarded_before = discards(workers.pipeline, "w1")
    uncommitted_work = not workers.pipeline.caught_up()
    workers.stop("w1", signal.SIGKILL)  # while the first half is being processed
    workers.pipeline.post_all(callbacks[half:])  # the stream goes on
    workers.start("w1")
    workers.settle()
    answers_as_expected(workers.running(), expected, timeout_s=120)

    assert uncommitted_work  # the kill hit records processed, or not, but not committed
    assert discards(workers.pipeline, "w1") == discarded_before + 1  # restored from the changelogs
    pipeline = workers.pipeline
    pipeline.wait_caught_up()  # the views change before the transaction commits: now its events are out
    emitted = emitted_event_ids(pipeline, callbacks, count=len(callbacks) + 1)
    assert emitted == sent_event_ids(callbacks)  # each distinct event exactly once
    assert state_chains(pipeline, keys, expected) == "every state emitted once, in order"


# -- helpers ---------------------------------------------------------------------------------


def wait_some_processed(workers: Workers, paths: list[str]) -> None:
    """Wait until some of the messages (a tenth of the first 30) have a state."""
    deadline = time.monotonic() + 60
    url = workers.running()[0]
    while time.monotonic() < deadline:
        if sum(get_json(url, path)[0] == 200 for path in paths[:30]) >= 3:
            return
        time.sleep(0.05)
    raise AssertionError("the workers processed nothing")


def discards(pipeline: Pipeline, name: str) -> int:
    """How often the worker ``name`` discarded its tables after an unclean stop (streams.tableclaims)."""
    return (pipeline.workdir / f"{name}.log").read_text().count("tables of an unclean stop discarded")

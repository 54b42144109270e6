"""A provider retry storm: the same callbacks (hundreds, of many messages, prices and clicks
among them) sent 10 times at once, from 10 threads, to one gateway on the shared broker.
Every view ends as if each callback had come once: a price is not summed, a click is counted
once; each raw record's events are emitted once, and each state change once, in order."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

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

SENDS = 10


@pytest.fixture
def storm_pipeline(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Pipeline]:
    pipeline = Pipeline(kafka_bootstrap, tmp_path)
    try:
        pipeline.start_worker()
        pipeline.start_gateway(CBSP_GATEWAY_THREADS=str(SENDS))
        yield pipeline
    finally:
        pipeline.stop()


def test_the_same_callbacks_sent_ten_times_at_once_count_once(storm_pipeline: Pipeline) -> None:
    pipeline = storm_pipeline
    callbacks = histories(50, seed=11)
    kinds = Counter(c["callback_event"] for c in callbacks)
    assert len(callbacks) >= 300 and kinds["price"] > 0 and kinds["click"] > 0

    loads = [CallbackLoad(pipeline, batched(callbacks, size=5), pause_s=0) for _ in range(SENDS)]
    for load in loads:
        load.start()
    for load in loads:
        load.join(timeout_s=150)

    acknowledged = [ack for load in loads for ack in load.acknowledged]
    assert len(acknowledged) == SENDS * len(loads[0].batches)
    assert missing_from_raw(pipeline, acknowledged) == []
    expected = expected_views(callbacks)  # each callback once
    assert_counted_once(expected, callbacks)
    answers_as_expected(pipeline.worker_urls, expected, timeout_s=120)

    sent = sent_event_ids(callbacks)  # each distinct event once, however often it came
    pipeline.wait_caught_up()  # every copy processed and committed
    assert emitted_event_ids(pipeline, callbacks, count=sum(sent.values()) + 1, timeout_s=10) == sent
    assert state_chains(pipeline, message_keys(callbacks), expected) == "every state emitted once, in order"


def assert_counted_once(expected: dict[str, Any], callbacks: list[dict[str, Any]]) -> None:
    """The expected views, checked against the callbacks directly: events, clicks and prices
    are each counted once per distinct callback."""
    distinct: dict[str, set[str]] = defaultdict(set)
    clicks: dict[str, set[str]] = defaultdict(set)
    prices: dict[str, set[str]] = defaultdict(set)
    for callback in callbacks:
        path = f"/messages/revicom/{callback['message_uuid']}"
        distinct[path].add(repr(sorted(callback.items())))
        if callback["callback_event"] == "click":
            clicks[path].add(callback["click_time"])
        if callback["callback_event"] == "price":
            prices[path].add(f"{callback['price']:.6f}")
    for path, events in distinct.items():
        view = expected[path]
        assert view["event_count"] == len(events), path
        assert view["click_count"] == len(clicks[path]), path
        assert (view["price"]["amount"] if view["price"] else None) in (prices[path] or {None}), path

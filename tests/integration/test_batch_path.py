"""The batch path against the real broker: a backlog of all four providers, with provider retries
and late arrivals, read by one worker of two processes, gives exactly the reference states in
every view (from either process), each event once on the event topics, and each message's last
state on ``state.message.v1``.

The records are written as the gateway writes them (``bench.preload``: the gateway's own split
and keys); the reference applies each record's events one at a time with the merge rules alone.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.preload import preload
from streams import codecs, staterecords
from tests.integration.pipeline import Pipeline, wait_answers
from tests.unit.test_batches import Record, reference

BACKLOG = 3_000
PROVIDERS = ("revicom", "recessmobile", "fortytwo", "edna")


@pytest.fixture(scope="module")
def drained(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    pipeline = Pipeline(kafka_bootstrap, tmp_path_factory.mktemp("batches"))
    try:
        pipeline.create_topics(partitions=8)  # as the worker would create them: the tables' count
        assert asyncio.run(preload(kafka_bootstrap, pipeline.topics, BACKLOG)) == BACKLOG
        url = pipeline.start_worker("w", processes=2)
        port = int(url.rsplit(":", 1)[1])
        pipeline.worker_urls.append(f"http://127.0.0.1:{port + 1}")  # the second process
        for provider in PROVIDERS:
            pipeline.wait_caught_up(provider, timeout_s=180)
        yield pipeline
    finally:
        pipeline.stop()


def expected_states(pipeline: Pipeline) -> tuple[dict[bytes, bytes], set[str]]:
    """The reference over the very records the backlog holds, read back in each partition's order."""
    raws = pipeline.consume(pipeline.topics.raw_all(), count=BACKLOG, timeout_s=30)
    assert len(raws) == BACKLOG
    taken = [
        Record(r.topic, r.partition, r.offset, None, r.key or b"", r.value or b"", list(r.headers.items()))
        for r in sorted(raws, key=lambda r: (r.topic, r.partition, r.offset))
    ]
    return reference(taken)


def test_every_view_from_either_process_is_the_reference_state(drained: Pipeline) -> None:
    states, _ = expected_states(drained)
    assert len(states) > 1_000
    expected = {
        "/messages/{}/{}".format(*key.decode().split(":", 1)): staterecords.jsonable(
            staterecords.to_record(staterecords.from_json(value))
        )
        for key, value in states.items()
    }
    answers = wait_answers(drained.worker_urls, sorted(expected), timeout_s=120)
    differ = [path for path in expected if answers[path] != expected[path]]
    assert differ == [], f"{len(differ)} views differ, e.g. {differ[0]}: {answers[differ[0]]}"


def test_each_event_is_on_the_event_topics_once(drained: Pipeline) -> None:
    _, ids = expected_states(drained)
    events = drained.consume(drained.topics.events_all(), count=len(ids) + 1, timeout_s=20)
    emitted = Counter(codecs.decode_message(r.value or b"")["event_id"] for r in events)
    assert set(emitted) == ids
    assert [event_id for event_id, n in emitted.items() if n > 1] == []


def test_each_messages_last_state_record_is_its_final_state(drained: Pipeline) -> None:
    states, _ = expected_states(drained)
    records = drained.consume([drained.topics.state_message], count=10 * len(states), timeout_s=20)
    last = {r.key: codecs.decode_message(r.value or b"") for r in records}
    assert set(last) == set(states)
    differ = [
        key
        for key, value in states.items()
        if last[key] != staterecords.to_record(staterecords.from_json(value))
    ]
    assert differ == []


def test_the_worker_ran_as_two_processes_of_one_group(drained: Pipeline) -> None:
    log = Path(drained.workdir / "w.log").read_text(errors="replace")
    assert log.count("worker process started") == 2

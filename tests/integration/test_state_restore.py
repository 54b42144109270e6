"""The bulk table restore (streams.faustpatches.restore) against a real broker: it applies exactly the
committed records of each range, in order, and stops on a range it cannot finish."""

from __future__ import annotations

import asyncio
import uuid
from collections import namedtuple
from typing import Any

from aiokafka import TopicPartition

from streams.faustpatches.restore import ChangelogEvent, missing, read_in_bulk
from tests.integration.test_state_changelog_ends import write

TP = namedtuple("TP", "topic partition")  # the shape of Faust's TP


def restore(bootstrap: str, topic: str, highwaters: dict[int, int], stall_s: float = 10.0) -> Any:
    """Read partitions 0..2 of ``topic`` from the start up to ``highwaters`` (Faust's: the
    offset of the last record); returns (what was applied per partition, offsets reached)."""
    ranges = missing({TP(topic, p): -1 for p in range(3)}, {TP(topic, p): h for p, h in highwaters.items()})
    applied: dict[int, list[tuple[int, bytes | None, bytes | None]]] = {}

    def apply(tp: TopicPartition, batch: list[ChangelogEvent]) -> None:
        for event in batch:
            message = event.message
            assert message.tp == tp and message.partition == tp.partition
            applied.setdefault(tp.partition, []).append((message.offset, message.key, message.value))

    reached = asyncio.run(read_in_bulk([bootstrap], "read_committed", ranges, apply, stall_s=stall_s))
    return applied, {tp.partition: offset for tp, offset in reached.items()}


def test_only_the_missing_ranges_are_read() -> None:
    ranges = missing(
        {TP("c", 0): -1, TP("c", 1): 5, TP("c", 2): 7, TP("c", 3): None},
        {TP("c", 0): 3, TP("c", 1): 9, TP("c", 2): 7, TP("c", 3): -1},
    )
    assert ranges.first == {TopicPartition("c", 0): 0, TopicPartition("c", 1): 6}
    assert ranges.last == {TopicPartition("c", 0): 3, TopicPartition("c", 1): 9}
    assert ranges.total == 4 + 4


def test_the_committed_records_are_applied_in_order_and_aborted_ones_never(kafka_bootstrap: str) -> None:
    topic = f"t{uuid.uuid4().hex[:10]}.restore"
    asyncio.run(write(kafka_bootstrap, topic))  # 0: committed 0..2, marker, aborted 4..5, marker
    # 1: plain records 0..3

    applied, reached = restore(kafka_bootstrap, topic, {0: 2, 1: 3, 2: -1})

    assert applied == {
        0: [(n, b"%d" % n, b"committed") for n in range(3)],
        1: [(n, b"%d" % n, b"plain") for n in range(4)],
    }
    assert reached == {0: 2, 1: 3}


def test_a_range_ending_in_aborted_records_is_finished_without_them(kafka_bootstrap: str) -> None:
    topic = f"t{uuid.uuid4().hex[:10]}.restore"
    asyncio.run(write(kafka_bootstrap, topic))

    applied, reached = restore(kafka_bootstrap, topic, {0: 6, 1: 1})  # 6: the abort marker

    assert applied == {
        0: [(n, b"%d" % n, b"committed") for n in range(3)],
        1: [(n, b"%d" % n, b"plain") for n in range(2)],  # not past the range
    }
    assert reached == {0: 6, 1: 1}  # read to the end of both: nothing is left for Faust's loop


def test_a_range_past_the_end_is_left_to_faust_after_the_stall(kafka_bootstrap: str) -> None:
    topic = f"t{uuid.uuid4().hex[:10]}.restore"
    asyncio.run(write(kafka_bootstrap, topic))

    applied, reached = restore(kafka_bootstrap, topic, {0: 2, 1: 9}, stall_s=1.0)

    assert [offset for offset, _, _ in applied[1]] == [0, 1, 2, 3]
    assert reached == {0: 2, 1: 3}  # partition 1 only as far as it got: Faust's loop waits for the rest

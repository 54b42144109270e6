"""The bookkeeping of ``streams.holes``: when a partition counts as held back by missing records,
when it is read again, and when the offsets below its first processed one count as empty.

A small stand-in holds the few consumer fields the watch reads; what a real worker does with a
real broker is in ``tests/integration/test_state_holes.py``.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any, NamedTuple

import pytest

from streams.holes import HoleWatch


class TP(NamedTuple):
    topic: str
    partition: int


P = TP("raw", 3)


class Bookkeeping:
    """The consumer fields Faust keeps per partition, and the two calls the watch makes."""

    def __init__(self, committed: int | None, acked: list[int]) -> None:
        self._committed_offset: dict[Any, int | None] = defaultdict(lambda: None, {P: committed})
        self._acked: dict[Any, list[int]] = defaultdict(list, {P: list(acked)})
        self._acked_index: dict[Any, set[int]] = defaultdict(set, {P: set(acked)})
        self.seeks: list[tuple[Any, int]] = []
        self.gaps: list[tuple[Any, int, int]] = []

    def assignment(self) -> set[Any]:
        return {P}

    async def seek(self, tp: Any, offset: int) -> None:
        self.seeks.append((tp, offset))

    async def _add_gap(self, tp: Any, offset_from: int, offset_to: int) -> None:
        self.gaps.append((tp, offset_from, offset_to))


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def after_commit(watch: HoleWatch, consumer: Bookkeeping) -> None:
    asyncio.run(watch.after_commit(consumer))


def test_a_partition_with_nothing_left_acked_is_not_held(clock: Clock) -> None:
    consumer, watch = Bookkeeping(committed=10, acked=[]), HoleWatch(10, clock)
    for clock.now in (0, 20, 40):
        after_commit(watch, consumer)
    assert consumer.seeks == [] and watch.holes == {}


def test_a_held_partition_is_read_again_from_its_committed_offset_after_the_patience(clock: Clock) -> None:
    consumer, watch = Bookkeeping(committed=10, acked=[13, 14]), HoleWatch(10, clock)
    after_commit(watch, consumer)
    clock.now = 9.9
    after_commit(watch, consumer)
    assert consumer.seeks == []

    clock.now = 10
    after_commit(watch, consumer)
    assert consumer.seeks == [(P, 10)]


def test_a_hole_that_fills_in_time_is_forgotten(clock: Clock) -> None:
    consumer, watch = Bookkeeping(committed=10, acked=[13]), HoleWatch(10, clock)
    after_commit(watch, consumer)
    consumer._acked[P], consumer._committed_offset[P] = [], 14  # 10-12 came late and all committed
    clock.now = 5
    after_commit(watch, consumer)
    clock.now = 30
    after_commit(watch, consumer)
    assert consumer.seeks == [] and watch.holes == {}


def test_a_partition_that_moves_on_and_is_held_again_gets_a_fresh_patience(clock: Clock) -> None:
    consumer, watch = Bookkeeping(committed=10, acked=[13]), HoleWatch(10, clock)
    after_commit(watch, consumer)
    clock.now = 8
    consumer._committed_offset[P], consumer._acked[P] = 11, [13]  # 10 came, 11-12 still missing
    after_commit(watch, consumer)
    clock.now = 12
    after_commit(watch, consumer)
    assert consumer.seeks == []
    clock.now = 18
    after_commit(watch, consumer)
    assert consumer.seeks == [(P, 11)]


def test_offsets_read_again_without_records_are_committed_past(clock: Clock) -> None:
    """Read again up to the first processed offset, nothing came below it: transaction markers."""
    consumer, watch = Bookkeeping(committed=10, acked=[13]), HoleWatch(10, clock)
    after_commit(watch, consumer)
    clock.now = 10
    after_commit(watch, consumer)
    assert consumer.seeks == [(P, 10)]

    assert watch.processed_already(consumer, P, 13)  # the read-again reaches 13: skipped, once
    clock.now = 20
    after_commit(watch, consumer)
    assert consumer.gaps == [(P, 10, 12)]
    assert consumer.seeks == [(P, 10)]


def test_a_read_again_that_has_not_reached_the_first_processed_offset_is_read_again(clock: Clock) -> None:
    consumer, watch = Bookkeeping(committed=10, acked=[13]), HoleWatch(10, clock)
    after_commit(watch, consumer)
    clock.now = 10
    after_commit(watch, consumer)
    clock.now = 20
    after_commit(watch, consumer)
    assert consumer.gaps == []
    assert consumer.seeks == [(P, 10), (P, 10)]


def test_skips_seen_before_a_seek_back_prove_nothing(clock: Clock) -> None:
    consumer, watch = Bookkeeping(committed=10, acked=[13]), HoleWatch(10, clock)
    assert watch.processed_already(consumer, P, 13)  # a duplicate before any seek back
    after_commit(watch, consumer)
    clock.now = 10
    after_commit(watch, consumer)
    assert consumer.gaps == [] and consumer.seeks == [(P, 10)]


def test_processed_already_means_below_the_committed_offset_or_acked_since() -> None:
    consumer, watch = Bookkeeping(committed=10, acked=[12]), HoleWatch()
    assert watch.processed_already(consumer, P, 9)
    assert not watch.processed_already(consumer, P, 10)
    assert not watch.processed_already(consumer, P, 11)
    assert watch.processed_already(consumer, P, 12)
    assert not watch.processed_already(consumer, P, 13)
    assert not watch.processed_already(Bookkeeping(committed=None, acked=[]), P, 0)


def test_a_rebalance_forgets_every_hole(clock: Clock) -> None:
    consumer, watch = Bookkeeping(committed=10, acked=[13]), HoleWatch(10, clock)
    after_commit(watch, consumer)
    watch.forget()
    clock.now = 10
    after_commit(watch, consumer)
    assert consumer.seeks == []

"""Which changelog ranges the bulk restore reads: from what each partition's store holds, whatever
Faust's recovery loop did to its own offsets meanwhile."""

from __future__ import annotations

import asyncio
from collections import Counter, namedtuple
from typing import Any

from aiokafka import TopicPartition

from streams.faustpatches.restore import BulkRecovery, Ranges

TP = namedtuple("TP", "topic partition")  # the shape of Faust's TP


class Store:
    def __init__(self, persisted: dict[Any, int | None]) -> None:
        self.persisted = persisted

    def persisted_offset(self, tp: Any) -> int | None:
        return self.persisted.get(tp)


class Consumer:
    def __init__(self, starts: dict[Any, int]) -> None:
        self.starts = starts

    async def earliest_offsets(self, *tps: Any) -> dict[Any, int]:
        return {tp: self.starts[tp] for tp in tps}

    async def seek_wait(self, offsets: dict[Any, int]) -> None:
        """Faust's own seek, after the restore: nothing to check here."""


def ranges_read(
    persisted: dict[Any, int | None],
    starts: dict[Any, int],
    highwaters: dict[Any, int],
    offsets: dict[Any, int],
) -> Ranges:
    recovery = BulkRecovery.__new__(BulkRecovery)  # only the attributes the seek reads
    store = Store(persisted)
    recovery.tp_to_table = {tp: store for tp in highwaters}
    recovery.active_highwaters = Counter(highwaters)
    read: list[Ranges] = []

    async def restore(ranges: Ranges, offsets: Any) -> None:
        read.append(ranges)

    recovery._restore = restore  # type: ignore[method-assign]
    asyncio.run(recovery._seek_offsets(Consumer(starts), set(highwaters), Counter(offsets), "active"))
    return read[0] if read else Ranges({}, {})


def test_a_partition_whose_offset_faust_moved_to_its_highwater_is_still_read() -> None:
    """One record at offset 0 (highwater 0), nothing in the store: Faust's idle loop had already
    set the partition's offset to 0 (the consumer's position, 0, reached the highwater)."""
    one, more = TP("cascades-changelog", 2), TP("cascades-changelog", 0)
    ranges = ranges_read(
        persisted={one: None, more: None},
        starts={one: 0, more: 0},
        highwaters={one: 0, more: 2},
        offsets={one: 0, more: -1},
    )
    assert ranges.first == {TopicPartition(one.topic, 2): 0, TopicPartition(more.topic, 0): 0}
    assert ranges.last == {TopicPartition(one.topic, 2): 0, TopicPartition(more.topic, 0): 2}


def test_the_range_starts_after_the_stored_offset_or_at_the_log_start() -> None:
    kept, compacted, complete = TP("c", 0), TP("c", 1), TP("c", 2)
    ranges = ranges_read(
        persisted={kept: 5, compacted: 3, complete: 9},
        starts={kept: 0, compacted: 7, complete: 0},
        highwaters={kept: 9, compacted: 9, complete: 9},
        offsets={kept: 9, compacted: 9, complete: 9},
    )
    assert ranges.first == {TopicPartition("c", 0): 6, TopicPartition("c", 1): 7}
    assert ranges.last == {TopicPartition("c", 0): 9, TopicPartition("c", 1): 9}

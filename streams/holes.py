"""Records that never reached the agent are read again, instead of holding a partition back.

Faust commits a partition only up to its first offset not acked. A record fetched and then
lost on the way to the agent (a rebalance clears the stream's buffer; ``streams.eos`` drops an
event taken before a rebalance) is normally read again from the committed offset after the
rebalance. When that read-again does not happen, nothing says so: the partition's commits stop
at the missing record for good, the events after it are processed but never committed, their
transaction times out and the producer is fenced (seen in CI as a view missing four of its five
events, and a worker stalled for minutes). And a partition nobody has committed yet has no
committed offset for Faust to stop at: it commits past the missing records.

What this module adds:

- :meth:`HoleWatch.processed_already`: an event below the partition's committed offset, or
  acked since the last commit, is not processed again (events come once into the outputs even
  when they are read twice, as after a seek back);
- :meth:`HoleWatch.after_commit`: a partition that still holds acked offsets after a commit is
  waiting for an offset below them. After ``patience_s`` it is sought back to its committed
  offset (a warning). If the read-again passes the first acked offset and the partition is still
  held, the offsets below hold no records a ``read_committed`` consumer sees (transaction
  markers, aborted records), and Faust is told to commit past them;
- :func:`start_offsets`: a partition without a committed offset gets, in Faust's bookkeeping, the
  offset its reading starts from (the log start under ``earliest``), so that the two parts above
  see its missing records too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

PATIENCE_S = 10.0  # a few commit intervals (Faust's default is 2.8 s)


@dataclass
class Hole:
    committed: int  # the partition's committed offset, where the missing records start
    since: float
    sought_back: bool = False


class HoleWatch:
    """Finds partitions held back by missing records, per consumer; state lives until a rebalance."""

    def __init__(self, patience_s: float = PATIENCE_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.patience_s = patience_s
        self.clock = clock
        self.holes: dict[Any, Hole] = {}
        self.read_again: dict[Any, int] = {}  # highest offset skipped as processed, since a seek back
        self.on_read_again: Callable[[str], None] = lambda topic: None  # a metric (streams.monitoring)

    def processed_already(self, consumer: Any, tp: Any, offset: int) -> bool:
        committed = consumer._committed_offset.get(tp)
        done = (committed is not None and offset < committed) or offset in consumer._acked_index.get(tp, ())
        if done and tp in self.read_again:
            self.read_again[tp] = max(self.read_again[tp], offset)
        return done

    def forget(self) -> None:
        """A rebalance: the partitions are read again from their committed offsets anyway."""
        self.holes.clear()
        self.read_again.clear()

    async def after_commit(self, consumer: Any) -> None:
        now = self.clock()
        assigned = consumer.assignment()
        held = {}
        for tp, acked in consumer._acked.items():
            committed = consumer._committed_offset.get(tp)
            if acked and committed is not None and tp in assigned:
                held[tp] = (committed, min(acked))
        for tp in set(self.holes) - set(held):
            self.holes.pop(tp)
            self.read_again.pop(tp, None)
        for tp, (committed, first_acked) in held.items():
            hole = self.holes.get(tp)
            if hole is None or hole.committed != committed:
                self.holes[tp] = Hole(committed, now)
            elif now - hole.since >= self.patience_s:
                await self._mend(consumer, tp, hole, first_acked, now)

    async def _mend(self, consumer: Any, tp: Any, hole: Hole, first_acked: int, now: float) -> None:
        if hole.sought_back and self.read_again.get(tp, -1) >= first_acked:
            logger.info(
                "no records below the first processed offset, committing past them topic=%s partition=%d "
                "offsets=%d-%d (transaction markers or aborted records)",
                tp.topic,
                tp.partition,
                hole.committed,
                first_acked - 1,
            )
            await consumer._add_gap(tp, hole.committed, first_acked - 1)
            self.holes.pop(tp)
            self.read_again.pop(tp, None)
            return
        logger.warning(
            "partition held back by records never processed, reading it again from its committed offset "
            "topic=%s partition=%d committed=%d first_processed=%d waited_s=%.0f",
            tp.topic,
            tp.partition,
            hole.committed,
            first_acked,
            now - hole.since,
        )
        self.read_again[tp] = -1
        await consumer.seek(tp, hole.committed)
        self.on_read_again(tp.topic)
        hole.sought_back = True
        hole.since = now


async def start_offsets(consumer: Any) -> None:
    """Give each assigned partition without a committed offset the log start as one (``earliest``)."""
    if consumer.app.conf.consumer_auto_offset_reset != "earliest":
        return  # under ``latest`` the reading starts at the end on purpose
    acked_topics = consumer.app.topics.acks_enabled_for
    unset = [
        tp
        for tp in consumer.assignment()
        if consumer._committed_offset.get(tp) is None and acked_topics(tp.topic)
    ]
    if unset:
        starts = await consumer.earliest_offsets(*unset)
        for tp, offset in starts.items():
            if consumer._committed_offset.get(tp) is None:
                consumer._committed_offset[tp] = offset

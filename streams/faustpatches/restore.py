"""Table restore: the changelogs read in bulk before Faust's own restore loop starts.

Faust restores a table by passing each changelog record through its consumer thread, its
conductor and its recovery loop, one event at a time. The benchmark measured that at 7,462
records/s, where a plain read of the same changelog ran at 181,382/s. So once Faust knows
what each assigned changelog partition is missing, this module reads that range with a
consumer of its own, in batches (``read_committed`` under exactly-once, as Faust's consumer
reads). It writes the records into the table's store the way Faust's loop does: through
``Table.apply_changelog_batch``, which also stores the partition's offset. Faust's loop then
finds nothing left to read.

If the bulk read stops making progress (a broker that does not answer, an open transaction
holding back the last stable offset), it stops. Whatever it did not apply, Faust's loop
reads as before, from the offsets stored so far.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.tables import TableManager
from faust.tables.recovery import Recovery
from faust.transport.drivers.aiokafka import server_list

logger = logging.getLogger(__name__)

BATCH_RECORDS = 20_000  # records taken from the consumer, and applied, at a time
STALL_S = 10.0  # no progress for this long: leave the rest to Faust's loop
PROGRESS_EVERY_S = 5.0
# the end of a restore, read back by the benchmark (``bench.recovery``): seconds to the
# millisecond, as a restore of a few thousand records takes a few dozen of them
RESTORED = "tables restored from the changelogs records=%d partitions=%d seconds=%.3f rate=%.0f/s"


class ChangelogMessage(NamedTuple):
    """What a store reads of a changelog event's message."""

    tp: TopicPartition
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


class ChangelogEvent(NamedTuple):
    message: ChangelogMessage


class Ranges(NamedTuple):
    """Per partition: the first offset to read and the last one to apply."""

    first: dict[TopicPartition, int]
    last: dict[TopicPartition, int]

    @property
    def total(self) -> int:
        return sum(self.last[tp] - self.first[tp] + 1 for tp in self.first)


def missing(offsets: Mapping[Any, int | None], highwaters: Mapping[Any, int | None]) -> Ranges:
    """The ranges to read: after each partition's applied offset, up to its highwater.

    Both as Faust's recovery keeps them: the offset of the last record applied (-1 for none),
    and the offset of the last record there is.
    """
    first: dict[TopicPartition, int] = {}
    last: dict[TopicPartition, int] = {}
    for tp, highwater in highwaters.items():
        applied = offsets.get(tp)
        applied = -1 if applied is None else applied
        if highwater is not None and highwater > applied:
            key = TopicPartition(tp.topic, tp.partition)
            first[key], last[key] = applied + 1, highwater
    return Ranges(first, last)


def events(records: Iterable[Any], tp: TopicPartition, last: int) -> list[ChangelogEvent]:
    return [
        ChangelogEvent(ChangelogMessage(tp, tp.partition, r.offset, r.key, r.value))
        for r in records
        if r.offset <= last
    ]


async def read_in_bulk(
    servers: list[str], isolation_level: str, ranges: Ranges, apply: Any, stall_s: float = STALL_S
) -> dict[TopicPartition, int]:
    """Read ``ranges``; ``apply(tp, events)`` gets them in order, a batch at a time. Returns,
    per partition it got to, the offset read up to: the end of its range once the consumer's
    position is past it (the last records may be aborted ones, or markers), else the offset
    of the last record applied."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=servers,
        enable_auto_commit=False,
        isolation_level=isolation_level,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 * 1024 * 1024,
        fetch_max_bytes=16 * 1024 * 1024,
    )
    await consumer.start()
    applied: dict[TopicPartition, int] = {}
    try:
        pending = set(ranges.first)
        consumer.assign(list(pending))
        for tp in pending:
            consumer.seek(tp, ranges.first[tp])
        began = last_progress = last_report = time.monotonic()
        done = 0
        while pending:
            fetched = await consumer.getmany(timeout_ms=500, max_records=BATCH_RECORDS)
            for tp, records in fetched.items():
                batch = events(records, tp, ranges.last[tp])
                if batch:
                    apply(tp, batch)
                    applied[tp] = batch[-1].message.offset
                    done += len(batch)
            now = time.monotonic()
            finished = {tp for tp in pending if await consumer.position(tp) > ranges.last[tp]}
            if fetched or finished:
                last_progress = now
            pending -= finished
            applied.update((tp, ranges.last[tp]) for tp in finished)
            consumer.pause(*finished)
            if pending and now - last_progress > stall_s:
                logger.warning(
                    "bulk restore made no progress for %.0f s, Faust's restore reads the rest partitions=%s",
                    stall_s,
                    sorted(f"{tp.topic}[{tp.partition}]" for tp in pending),
                )
                break
            if now - last_report >= PROGRESS_EVERY_S:
                logger.info("restoring tables: %d of %d changelog records", done, ranges.total)
                last_report = now
        seconds = time.monotonic() - began
        logger.info(
            RESTORED,
            done,
            len(ranges.first),
            seconds,
            done / seconds if seconds else 0.0,
        )
    finally:
        await consumer.stop()
    return applied


class BulkRecovery(Recovery):  # type: ignore[misc]  # faust is untyped here
    """Faust's recovery, with the active changelog partitions read in bulk first."""

    async def _seek_offsets(self, consumer: Any, tps: Any, offsets: Any, title: str) -> None:
        if title == "active" and tps:
            highwaters = {tp: self.active_highwaters.get(tp) for tp in tps}
            ranges = missing(await self._applied_offsets(consumer, tps), highwaters)
            if ranges.first:
                await self._restore(ranges, offsets)
        await super()._seek_offsets(consumer, tps, offsets, title)

    async def _applied_offsets(self, consumer: Any, tps: Any) -> dict[Any, int]:
        """Per partition, the offset of the last changelog record its store holds: the offset the
        store persisted, or the one before the log's start if the log starts after it.

        Not Faust's ``active_offsets``: its recovery loop, idle in a transactional app, moves a
        partition's offset to the highwater as soon as the consumer's position reaches it
        (``detect_aborted_tx``). The position is the next offset to read, so that is one record
        early, and the app's consumer is positioned at 0 on a partition it just got: the one
        record of a partition whose changelog holds one was never restored (a cascade missing
        after a worker's partitions moved to another).
        """
        starts = await consumer.earliest_offsets(*tps)
        applied: dict[Any, int] = {}
        for tp in tps:
            persisted = self.tp_to_table[tp].persisted_offset(tp)
            start = starts.get(tp)
            applied[tp] = max(-1 if persisted is None else persisted, -1 if start is None else start - 1)
        return applied

    async def _restore(self, ranges: Ranges, offsets: Any) -> None:
        """Apply ``ranges`` and move Faust's ``offsets`` along (the remaining-records gauge
        follows them), batch by batch. Faust's ``TP`` and aiokafka's ``TopicPartition`` are
        equal tuples, so either looks up the other's dicts."""

        def apply(tp: TopicPartition, batch: list[ChangelogEvent]) -> None:
            self.tp_to_table[tp].apply_changelog_batch(batch)
            offsets[tp] = batch[-1].message.offset

        app = self.app
        servers = server_list(app.transport.url, app.transport.default_port)
        isolation = "read_committed" if app.in_transaction else "read_uncommitted"
        reached = await read_in_bulk(servers, isolation, ranges, apply)
        offsets.update(reached)


class BulkRestoringTableManager(TableManager):  # type: ignore[misc]  # faust is untyped here
    """Faust's table manager, with the recovery above (the app's ``TableManager`` setting)."""

    _recovery: Recovery | None = None

    @property
    def recovery(self) -> Recovery:
        if self._recovery is None:
            self._recovery = BulkRecovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery

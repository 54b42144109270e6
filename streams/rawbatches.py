"""The raw topics, a fetched batch at a time: processed, stored, sent, and their offsets kept.

Faust's Stream and its per-key table write were measured as ceilings below the worker's goal
(docs/architecture.md, "The batch path"), so the raw records go around both: the patched
consumer (``streams.faustpatches.transport``)
takes each raw partition's records from the app's own consumer as aiokafka fetched them and
hands them here, one partition's batch at a time, between two commits. Per batch:

1. :func:`streams.batches.process` computes everything (events new to their state, one state per
   changed key, dead letters);
2. the dead letters are delivered to the DLQ;
3. the changed states go into the partition's RocksDB in one write batch;
4. every record (events, states, the states' changelog, cascade members) is handed to the
   producer of the partition's transaction (under ``at_least_once``: the app's producer)
   without waiting for it; the next commit waits for all of them (``streams.faustpatches``);
5. the partition's next offset moves past the batch: the commit takes it.

Faust keeps the App, the group and its assignment, the tables' recovery, the routed views, the
commits and the cascade agent.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Iterable
from typing import Any

from aiokafka import TopicPartition
from rocksdict import WriteBatch

from streams import batches, codecs
from streams.batches import BatchResult
from streams.deadletters import DeadLetters
from streams.faustpatches import access
from streams.faustpatches.transport import seek_in_consumer_thread
from streams.outbox import Outbox
from streams.reading import Reading
from streams.settings import WorkerSettings
from streams.status.counters import Counters
from streams.tables import Tables
from streams.topics import Topics

logger = logging.getLogger(__name__)


class RawBatches:
    """The batch path's topics: the raw topics (dense: written without transactions) and the
    cascade members topic; where each assigned partition stands (``streams.reading``)."""

    def __init__(
        self,
        app: Any,
        settings: WorkerSettings,
        tables: Tables,
        topics: Topics,
        counters: Counters,
        dead_letters: DeadLetters,
        wire: codecs.WireFormat = codecs.SINGLE_OBJECT,
    ) -> None:
        self.app = app
        self.wire = wire
        self.settings = settings
        self.tables = tables
        self.counters = counters
        self.dead_letters = dead_letters
        self.members = topics.cascade_members.get_topic_name()
        dense = set(topics.raw_callbacks.topics)
        self.topics = {*dense, self.members}
        self.reading = Reading(dense)
        self.changelogs = tables.changelogs()

    def reads(self, tp: Any) -> bool:
        return tp.topic in self.topics

    def start(self, consumer: Any) -> None:
        """After the seek to the committed offsets (aiokafka's commit wants its own TopicPartition)."""
        assigned = [TopicPartition(tp.topic, tp.partition) for tp in consumer.assignment() if self.reads(tp)]
        self.reading.start(assigned, access.committed_offsets(consumer, assigned))

    def forget(self) -> None:
        self.reading.forget()

    def commit_offset(self, tp: Any) -> int | None:
        return self.reading.next_offsets.get(tp)

    @property
    def next_offsets(self) -> dict[Any, int | None]:
        return self.reading.next_offsets

    async def handle(self, consumer: Any, tp: Any, records: list[Any]) -> None:
        """Process ``records`` (one partition's, in offset order), unless the partition is not ours now."""
        if not self.reading.reads(tp) or not self.app.flow_control.is_active():
            return  # a rebalance: read again from the committed offset after it
        run = self.reading.next_run(tp, records)
        if run.gone is not None:
            logger.warning(
                "raw records no longer in the log, going on after them topic=%s partition=%d offsets=%d-%d",
                tp.topic,
                tp.partition,
                *run.gone,
            )
        if run.records:
            await self._process(consumer, tp, run.records)
        if run.read_again_from is not None:
            fetched_next = next((r.offset for r in records if r.offset > run.read_again_from), -1)
            logger.warning(
                "raw records missing from a fetched batch, reading the partition again from the first one "
                "topic=%s partition=%d missing_from=%d fetched_next=%d",
                tp.topic,
                tp.partition,
                run.read_again_from,
                fetched_next,
            )
            self.counters.count_read_again(tp.topic)
            await seek_in_consumer_thread(consumer, {tp: run.read_again_from})

    async def _process(self, consumer: Any, tp: Any, records: list[Any]) -> None:
        if tp.topic == self.members:
            await self._process_members(consumer, tp, records)
        else:
            await self._process_raw(consumer, tp, records)
        access.mark_inbound(self.app, tp, time.monotonic())
        self.reading.processed(tp, records[-1].offset)

    async def _process_raw(self, consumer: Any, tp: Any, records: list[Any]) -> None:
        table = self.tables.message_states
        db = access.partition_store(table, tp.partition)
        result = batches.process(records, db.get, self.settings.normalize_options)
        await self.dead_letters.send(result.dead_letters)
        _store(db, [(change.key, change.table_value) for change in result.states])
        changelog = _changelog(table)
        await self._send(
            consumer, tp, batches.outputs(result, self.settings.topics, changelog, tp.partition, self.wire)
        )
        self._count(result)

    async def _process_members(self, consumer: Any, tp: Any, records: list[Any]) -> None:
        """A batch of the cascade topic: the cascades' table values and their changelog, nothing else."""
        table = self.tables.cascade_states
        db = access.partition_store(table, tp.partition)
        result = batches.process_members(records, db.get)
        await self.dead_letters.send(result.dead_letters)
        _store(db, result.cascades)
        changelog = _changelog(table)
        await self._send(
            consumer,
            tp,
            (batches.Output(changelog, key, value, None, tp.partition) for key, value in result.cascades),
        )

    async def _send(self, consumer: Any, tp: Any, outputs: Iterable[batches.Output]) -> None:
        """Hand every record of the batch to the producer of ``tp``'s transaction, in record batches
        (``streams.outbox``), and have the next commit wait for their delivery. A table's changelog
        batch, once delivered, moves the table's persisted offset as Faust's own table writes do."""
        sent = await Outbox(self.producer_for(consumer, tp)).send(outputs)
        for batch in sent:
            table = self.changelogs.get(batch.topic)
            if table is not None:
                persist = functools.partial(
                    access.persist_changelog_offset, self.app, table, records=batch.records
                )
                batch.delivered.add_done_callback(persist)
        consumer.awaits_delivery([batch.delivered for batch in sent])

    def producer_for(self, consumer: Any, tp: Any) -> Any:
        """The aiokafka producer that ``tp``'s batches send with: its transaction's, else the app's."""
        if consumer.in_transaction:
            return consumer.transactions.producer_for(tp)
        return access.app_producer(self.app)

    def _count(self, result: BatchResult) -> None:
        counters = self.counters
        for callback in result.callbacks:
            counters.count_callback(callback.provider, callback.timestamp_s)
        for provider, kind in result.unhandled:
            counters.count_unhandled(provider, kind)
        for new in result.events:
            counters.count_event(new.event, new.timestamp_s)
        for event in result.duplicates:
            counters.count_duplicate(event)


def _changelog(table: Any) -> str:
    return str(table.changelog_topic.get_topic_name())


def _store(db: Any, values: list[tuple[bytes, bytes]]) -> None:
    """The batch's table values into the partition's RocksDB, in one write."""
    if values:
        batch = WriteBatch(raw_mode=True)
        for key, value in values:
            batch.put(key, value)
        db.write(batch)

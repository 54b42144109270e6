"""The raw topics, a fetched batch at a time: processed, stored, sent, and their offsets kept.

Faust's Stream and its per-key table write were measured as ceilings below the worker's goal
(docs/architecture.md, "The batch path"), so the raw records go around both: ``streams.eos``
takes each raw partition's records from the app's own consumer as aiokafka fetched them and
hands them here, one partition's batch at a time, between two commits. Per batch:

1. :func:`streams.batches.process` computes everything (events new to their state, one state per
   changed key, dead letters);
2. the dead letters are delivered to the DLQ;
3. the changed states go into the partition's RocksDB in one write batch;
4. every record (events, states, the states' changelog, cascade members) is handed to the
   producer of the partition's transaction (under ``at_least_once``: the app's producer)
   without waiting for it; the next commit waits for all of them (``streams.eos``);
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

from streams import batches, deadletters, eos, monitoring
from streams.app import app, settings
from streams.batches import BatchResult
from streams.outbox import Outbox
from streams.reading import Reading
from streams.tables import cascade_states, message_states
from streams.topics import cascade_members_topic, raw_callbacks_topic

logger = logging.getLogger(__name__)


class RawBatches:
    """The batch path's topics: the raw topics (dense: written without transactions) and the
    cascade members topic; where each assigned partition stands (``streams.reading``)."""

    def __init__(self, dense: set[str], members: str) -> None:
        self.members = members
        self.topics = {*dense, members}
        self.reading = Reading(dense)

    def reads(self, tp: Any) -> bool:
        return tp.topic in self.topics

    def start(self, consumer: Any) -> None:
        """After the seek to the committed offsets (aiokafka's commit wants its own TopicPartition)."""
        assigned = [TopicPartition(tp.topic, tp.partition) for tp in consumer.assignment() if self.reads(tp)]
        self.reading.start(assigned, {tp: consumer._committed_offset.get(tp) for tp in assigned})

    def forget(self) -> None:
        self.reading.forget()

    def commit_offset(self, tp: Any) -> int | None:
        return self.reading.next_offsets.get(tp)

    @property
    def next_offsets(self) -> dict[Any, int | None]:
        return self.reading.next_offsets

    async def handle(self, consumer: Any, tp: Any, records: list[Any]) -> None:
        """Process ``records`` (one partition's, in offset order), unless the partition is not ours now."""
        if not self.reading.reads(tp) or not app.flow_control.is_active():
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
            monitoring.count_read_again(tp.topic)
            await eos.seek_in_consumer_thread(consumer, {tp: run.read_again_from})

    async def _process(self, consumer: Any, tp: Any, records: list[Any]) -> None:
        if tp.topic == self.members:
            await _process_members(consumer, tp, records)
        else:
            await _process_raw(consumer, tp, records)
        app.monitor.stream_inbound_time[tp] = time.monotonic()
        self.reading.processed(tp, records[-1].offset)


async def _process_raw(consumer: Any, tp: Any, records: list[Any]) -> None:
    db = message_states.data._db_for_partition(tp.partition)
    result = batches.process(records, db.get, settings.normalize_options)
    await deadletters.send(result.dead_letters)
    _store(db, [(change.key, change.table_value) for change in result.states])
    await _send(
        consumer, tp, batches.outputs(result, settings.topics, _changelog(message_states), tp.partition)
    )
    _count(result)


async def _process_members(consumer: Any, tp: Any, records: list[Any]) -> None:
    """A batch of the cascade topic: the cascades' table values and their changelog, nothing else."""
    db = cascade_states.data._db_for_partition(tp.partition)
    result = batches.process_members(records, db.get)
    await deadletters.send(result.dead_letters)
    _store(db, result.cascades)
    changelog = _changelog(cascade_states)
    await _send(
        consumer,
        tp,
        (batches.Output(changelog, key, value, None, tp.partition) for key, value in result.cascades),
    )


def _changelog(table: Any) -> str:
    return str(table.changelog_topic.get_topic_name())


def _store(db: Any, values: list[tuple[bytes, bytes]]) -> None:
    """The batch's table values into the partition's RocksDB, in one write."""
    if values:
        batch = WriteBatch(raw_mode=True)
        for key, value in values:
            batch.put(key, value)
        db.write(batch)


async def _send(consumer: Any, tp: Any, outputs: Iterable[batches.Output]) -> None:
    """Hand every record of the batch to the producer of ``tp``'s transaction, in record batches
    (``streams.outbox``), and have the next commit wait for their delivery. A table's changelog
    batch, once delivered, moves the table's persisted offset as Faust's own table writes do."""
    sent = await Outbox(producer_for(consumer, tp)).send(outputs)
    changelogs = {_changelog(message_states): message_states, _changelog(cascade_states): cascade_states}
    for batch in sent:
        table = changelogs.get(batch.topic)
        if table is not None:
            batch.delivered.add_done_callback(functools.partial(_persist_offset, table, batch.records))
    consumer.awaits_delivery([batch.delivered for batch in sent])


def _persist_offset(table: Any, records: int, delivered: Any) -> None:
    """Faust's ``Table._on_changelog_sent`` for a whole batch: the offset of its last record."""
    if delivered.cancelled() or delivered.exception() is not None:
        return  # the commit that waits for it fails, and nothing is persisted
    first = delivered.result()
    last = first.offset + records - 1
    if app.in_transaction:  # persisted when the partition's transaction commits
        app.tables.persist_offset_on_commit(table.data, first.topic_partition, last)
    else:
        table.data.set_persisted_offset(first.topic_partition, last)


def producer_for(consumer: Any, tp: Any) -> Any:
    """The aiokafka producer that ``tp``'s batches send with: its transaction's, else the app's."""
    if consumer.in_transaction:
        return consumer.transactions.producer_for(tp)
    return app.producer._ensure_producer()


def _count(result: BatchResult) -> None:
    for callback in result.callbacks:
        monitoring.count_callback(callback.provider, callback.timestamp_s)
    for provider, kind in result.unhandled:
        monitoring.count_unhandled(provider, kind)
    for new in result.events:
        monitoring.count_event(new.event, new.timestamp_s)
    for event in result.duplicates:
        monitoring.count_duplicate(event)


raw_batches = RawBatches(set(raw_callbacks_topic.topics), cascade_members_topic.get_topic_name())

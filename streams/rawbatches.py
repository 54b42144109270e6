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

import logging
import time
from typing import Any

from aiokafka import TopicPartition
from rocksdict import WriteBatch

from streams import batches, deadletters, monitoring
from streams.app import app, settings
from streams.batches import BatchResult
from streams.errors import OutputError
from streams.tables import message_states
from streams.topics import raw_callbacks_topic

logger = logging.getLogger(__name__)


class RawBatches:
    """Where each assigned raw partition's next record is, and the work of one batch."""

    def __init__(self, topics: set[str]) -> None:
        self.topics = topics
        # assigned raw partition -> the offset of the next record to process (None: the first
        # one fetched, when the group has no committed offset and reads from the end)
        self.next_offsets: dict[Any, int | None] = {}
        self.sought_back: dict[Any, int] = {}

    def reads(self, tp: Any) -> bool:
        return tp.topic in self.topics

    def start(self, consumer: Any) -> None:
        """After the seek to the committed offsets: read each assigned partition from there on.

        A partition processed past its committed offset (the same assignment, a seek back)
        keeps its next offset: what the open transaction holds is not processed twice.
        """
        for assigned in consumer.assignment():
            if self.reads(assigned):
                tp = TopicPartition(assigned.topic, assigned.partition)  # aiokafka's commit wants its own
                committed = consumer._committed_offset.get(tp)
                known = self.next_offsets.get(tp)
                self.next_offsets[tp] = (
                    committed if known is None or committed is None else max(known, committed)
                )

    def forget(self) -> None:
        """A revocation (after its commit): every partition is read again from its committed offset."""
        self.next_offsets.clear()
        self.sought_back.clear()

    def commit_offset(self, tp: Any) -> int | None:
        return self.next_offsets.get(tp)

    async def handle(self, consumer: Any, tp: Any, records: list[Any]) -> None:
        """Process ``records`` (one partition's, in offset order), unless the partition is not ours now.

        The raw topics are written without transactions, so each offset is a record and a fetch
        brings them without holes. Records missing all the same (lost on their way here) are read
        again: the records before the hole are processed, and the partition is sought back to it.
        A hole found again right after such a read-again holds records no longer in the log
        (retention), and the reading goes on after it, with a warning.
        """
        if tp not in self.next_offsets or not app.flow_control.is_active():
            return  # a rebalance: read again from the committed offset after it
        run = self._next_run(tp, records)
        if run:
            await self._process(consumer, tp, run)
        if len(run) < len(records) and records[-1].offset >= (self.next_offsets[tp] or 0):
            await self._read_again(consumer, tp, records)

    def _next_run(self, tp: Any, records: list[Any]) -> list[Any]:
        """The records to process now: from the next offset on, as long as none is missing."""
        expected = self.next_offsets[tp]
        if expected is not None and records[0].offset < expected:
            records = [record for record in records if record.offset >= expected]
        if not records:
            return []
        first = records[0].offset
        if expected is not None and first > expected:
            if self.sought_back.get(tp) != expected:
                return []
            logger.warning(
                "raw records no longer in the log, going on after them topic=%s partition=%d offsets=%d-%d",
                tp.topic,
                tp.partition,
                expected,
                first - 1,
            )
        if records[-1].offset - first == len(records) - 1:
            return records  # no hole: the usual case
        run = [records[0]]
        for record in records[1:]:
            if record.offset != run[-1].offset + 1:
                break
            run.append(record)
        return run

    async def _read_again(self, consumer: Any, tp: Any, records: list[Any]) -> None:
        missing_from = self.next_offsets[tp]
        if missing_from is None:
            return
        fetched_next = next(
            (record.offset for record in records if record.offset > missing_from), missing_from
        )
        logger.warning(
            "raw records missing from a fetched batch, reading the partition again from the first one "
            "topic=%s partition=%d missing_from=%d fetched_next=%d",
            tp.topic,
            tp.partition,
            missing_from,
            fetched_next,
        )
        self.sought_back[tp] = missing_from
        monitoring.count_read_again(tp.topic)
        await consumer.seek(tp, missing_from)

    async def _process(self, consumer: Any, tp: Any, records: list[Any]) -> None:
        db = message_states.data._db_for_partition(tp.partition)
        result = batches.process(records, db.get, settings.normalize_options)
        await deadletters.send(result.dead_letters)
        _store(db, result)
        await _send(consumer, tp, result)
        _count(result)
        app.monitor.stream_inbound_time[tp] = time.monotonic()
        self.next_offsets[tp] = records[-1].offset + 1


def _store(db: Any, result: BatchResult) -> None:
    if result.states:
        batch = WriteBatch(raw_mode=True)
        for change in result.states:
            batch.put(change.key, change.table_value)
        db.write(batch)


async def _send(consumer: Any, tp: Any, result: BatchResult) -> None:
    """Hand every record of the batch to the producer of ``tp``'s transaction, and have the next
    commit wait for their delivery."""
    producer = producer_for(consumer, tp)
    changelog = message_states.changelog_topic.get_topic_name()
    deliveries = []
    for output in batches.outputs(result, settings.topics, changelog, tp.partition):
        try:
            sent = await producer.send(
                output.topic, output.value, key=output.key, partition=output.partition, headers=output.headers
            )
        except Exception as exc:
            raise OutputError.refused(output.topic, exc) from exc
        if output.topic == changelog:
            sent.add_done_callback(message_states._on_changelog_sent)
        deliveries.append(sent)
    consumer.awaits_delivery(deliveries)


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


raw_batches = RawBatches(set(raw_callbacks_topic.topics))

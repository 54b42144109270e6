"""Exactly-once that holds for this topology, installed as the app's Faust transport.

faust-streaming 0.15.3's ``processing_guarantee="exactly_once"`` runs one Kafka transaction
per partition ``p`` of the source topics (``<app id>-<group>-<p>``) and commits the consumed
offsets in it. Read in ``faust/transport/consumer.py``, ``faust/tables/`` and
``faust/transport/drivers/aiokafka.py``, these keep that from being exactly-once here:

1. ``TransactionManager.send`` picks the transaction by the *destination* partition, and only
   for topics the app consumes: records to ``events.*`` and ``state.message.v1`` would go out
   outside every transaction, and a crash before the commit would double them.
2. A table write reaches the producer later, from a buffer task (``send_soon``); the commit does
   not wait for it.
3. The commit task runs between any two awaits of an agent, so one transaction can hold half
   of what a record caused while the record's offset goes with the next one.
4. On a rebalance Faust forgets the offsets processed since the last commit before it commits,
   then processes those records again into the same open transaction: their records twice.
5. The table restore compares a partition's persisted changelog offset with the partition's
   end, read as the last stable offset *cached from the last fetch*: stale once the worker wrote
   to its changelog, and the restore stops with ``ConsistencyError``.
6. The restore waits for the record at the end offset - 1, a transaction marker that no consumer
   receives, until a 10 s fallback, on every rebalance (``streams.faustpatches.changelogends``).
7. A partition's transactional producer outlives the partition moving to another worker, whose
   producer fences it; when the partition comes back the stale producer is used again, and the
   first commit fails with ``ProducerFenced`` and crashes the worker.
8. A committed offset of 0 reads as none at all.

The fix, point by point. The records of the source topics do not go through Faust's stream:
this consumer takes them out of each fetch and hands them to the batch path
(:mod:`streams.rawbatches`), which sends everything a batch causes (events, states, table
changelogs, cascade members) into the transaction of the batch's source partition (1, 2); a
commit waits until every record handed out so far is delivered, and commits and batches take
turns (one lock), so a batch's records and its offset commit together (2, 3); a revocation
commits first and closes every transactional producer, an assignment starts fresh ones (4, 7);
changelog ends are asked from the broker and moved back before the markers (5, 6); each
partition without a committed offset gets the log start as one (8). With ``at_least_once``
the same order holds without transactions: records delivered, then offsets committed.

The local RocksDB tables hold writes at once, committed or not: a clean stop releases them
(:mod:`streams.tableclaims`), so that only the tables of a run that did not stop cleanly are
rebuilt from the changelogs.

The batch path is handed to the transport by the wiring (:mod:`streams.wiring`):
``transport.batch_reader``; the consumer keeps its own turn lock and undelivered records.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn, Protocol

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError
from faust.transport.consumer import TopicPartitionGroup, TransactionManager
from faust.transport.drivers import aiokafka as aiokafka_driver

from streams.errors import OutputError
from streams.faustpatches import changelogends
from streams.tableclaims import release_tables

logger = logging.getLogger(__name__)

EXIT_OUTPUT_FAILED = 75  # EX_TEMPFAIL: a record could not be handed to Kafka; restart the worker


class BatchReader(Protocol):
    """What the consumer needs of the batch path (:class:`streams.rawbatches.RawBatches`)."""

    @property
    def next_offsets(self) -> dict[Any, int | None]: ...

    def reads(self, tp: Any) -> bool: ...

    def start(self, consumer: Any) -> None: ...

    def forget(self) -> None: ...

    def commit_offset(self, tp: Any) -> int | None: ...

    async def handle(self, consumer: Any, tp: Any, records: list[Any]) -> None: ...


def stop_at_once(message: Any, exc: OutputError) -> NoReturn:
    """Exit without Faust's stop, whose final commit would take the event's offset with it."""
    logger.critical(
        "a record could not be handed to Kafka, exiting before anything more is committed; "
        "restart the worker (the event is processed again) topic=%s partition=%d offset=%d error=%s",
        message.topic,
        message.partition,
        message.offset,
        exc,
    )
    logging.shutdown()  # flush the log first
    os._exit(EXIT_OUTPUT_FAILED)


class SourcePartitionTransactions(TransactionManager):  # type: ignore[misc]  # faust is untyped here
    """The transactions of the source partitions, one producer each, as the batch path uses them."""

    async def close_all(self) -> None:
        """Close every transactional producer; the next assignment starts fresh ones.

        Faust keeps the producer of a partition that moved to another worker and came back,
        and that producer was fenced meanwhile by the other worker's: the first commit after
        such a round trip failed with ``ProducerFenced`` and crashed the worker. A fresh
        producer's ``InitProducerId`` takes the current epoch and aborts what any earlier
        owner left open.
        """
        await self._stop_transactions(list(self.producer._transaction_producers))

    def transactional_id_for(self, source: Any) -> str:
        """The transaction that the records caused by ``source``'s records go into."""
        group = TopicPartitionGroup(
            source.topic, source.partition, self.app.assignor.group_for_topic(source.topic)
        )
        return str(self.transactional_id_format.format(tpg=group, group_id=self.app.conf.id))

    def producer_for(self, source: Any) -> Any:
        """The aiokafka producer of ``source``'s transaction (the batch path sends straight to it)."""
        return self.producer._transaction_producers[self.transactional_id_for(source)]

    async def _start_transactions(self, tids: Any) -> None:
        """Begin the transactions of the assigned partitions that have none open.

        Faust begins one for every assigned partition on each rebalance; for a partition
        kept through the rebalance one is still open, and aiokafka refuses (a warning each).
        """
        for tid in tids:
            running = self.producer._transaction_producers.get(tid)
            if running is None or not running._txn_manager.is_in_transaction():
                await self.producer.maybe_begin_transaction(tid)


class ConsumerThread(aiokafka_driver.AIOKafkaConsumerThread):  # type: ignore[misc]  # faust is untyped
    async def _highwaters(self, partitions: list[Any]) -> Any:
        """Changelog ends from the broker, never the stale cached last stable offset; under
        transactions the end of the committed data, past which only markers follow."""
        ends = await self._ensure_consumer().end_offsets(partitions)
        if not self.consumer.in_transaction:
            return ends
        servers = aiokafka_driver.server_list(self.transport.url, self.transport.default_port)
        try:
            return await changelogends.data_ends(servers, ends)
        except (TimeoutError, KafkaError) as exc:  # Faust then waits for the markers, 10 s
            logger.warning("changelog data ends not found, using the partition ends error=%r", exc)
            return ends


class Consumer(aiokafka_driver.Consumer):  # type: ignore[misc]  # faust is untyped here
    """Hands the batch path its records, and commits only between batches, after their records."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.turn = asyncio.Lock()  # a commit and the processing of one batch never interleave
        self.undelivered: list[Any] = []  # records handed to the producer since the last commit

    @property
    def batch_reader(self) -> BatchReader | None:
        """The topics read a fetched batch at a time (None: everything goes Faust's way)."""
        reader: BatchReader | None = self.transport.batch_reader
        return reader

    def _new_consumer_thread(self) -> ConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    def awaits_delivery(self, futures: list[Any]) -> None:
        """The next commit waits until Kafka has these records."""
        self.undelivered.extend(futures)

    async def _wait_next_records(self, timeout: float) -> Any:  # noqa: ASYNC109  (Faust's signature)
        """Faust's fetch, with the raw partitions' records taken out and processed a batch at a time.

        Each partition's batch is processed under the turn (between two commits), in a task of its
        own that a cancelled fetcher (a rebalance or a stop cancels it) does not cut short: a batch
        is processed whole or not at all.
        """
        records, active = await super()._wait_next_records(timeout)
        reader = self.batch_reader
        if records and reader is not None:
            batched = {tp: records.pop(tp) for tp in [tp for tp in records if reader.reads(tp)]}
            if batched:
                await asyncio.shield(asyncio.ensure_future(self._process_batches(reader, batched)))
        return records, active

    async def _process_batches(self, reader: BatchReader, batched: dict[Any, list[Any]]) -> None:
        for tp, records in batched.items():
            async with self.turn:
                try:
                    await reader.handle(self, tp, records)
                except OutputError as exc:
                    stop_at_once(records[0], exc)

    def _filter_tps_with_pending_acks(self, topics: Any = None) -> Iterator[Any]:
        yield from super()._filter_tps_with_pending_acks(topics)
        reader = self.batch_reader
        if reader is not None:
            for tp in list(reader.next_offsets):
                if topics is None or tp in topics or tp.topic in topics:
                    yield tp

    async def force_commit(self, topics: Any = None, start_new_transaction: bool = True) -> bool:
        async with self.turn:
            if self.undelivered:
                pending = list(self.undelivered)
                self.undelivered.clear()
                await asyncio.gather(*pending)  # raises, and commits nothing, if one failed
            committed: bool = await super().force_commit(topics, start_new_transaction=start_new_transaction)
            return committed

    def _new_offset(self, tp: Any) -> int | None:
        """The batch path's next offset of its partitions (Faust's reckoning for any other)."""
        reader = self.batch_reader
        if reader is not None and reader.reads(tp):
            return reader.commit_offset(tp)
        offset: int | None = super()._new_offset(tp)
        return offset

    async def perform_seek(self) -> None:
        """Faust's seek to the committed offsets, and the batch path's partitions to where it reads
        them from: Faust seeks a partition only if its committed offset is above 0, so one whose
        records were fetched before this (and dropped: the flow was stopped) would stay at the
        position after them, and the batch path would wait for records that never come."""
        await super().perform_seek()
        await start_offsets(self)
        reader = self.batch_reader
        if reader is not None:
            reader.start(self)
            await seek_in_consumer_thread(
                self, {tp: offset for tp, offset in reader.next_offsets.items() if offset is not None}
            )

    async def on_partitions_revoked(self, revoked: Any) -> None:
        """Commit what was processed before Faust forgets it.

        Faust forgets the work of revoked partitions first (with the eager protocol that is
        every partition) and commits after, so the work since the last commit would be done
        again after the rebalance, while its records are still in the open transaction:
        everything of those records twice. Here no new batch starts, the one in progress
        finishes, and its offsets commit with its records, before that.
        """
        self.app.flow_control.suspend()
        try:
            await self.commit()
        finally:
            if self.batch_reader is not None:
                self.batch_reader.forget()
            await self.transactions.close_all()
            await super().on_partitions_revoked(revoked)

    async def commit_and_end_transactions(self) -> None:
        """Commit, and keep a transaction open for each partition still assigned.

        Faust ends them here, and calls this while stopping (and rebalancing) before the
        fetcher is done: a batch it still finishes would then be sent, and committed,
        outside any transaction (aiokafka: "Not in the middle of a transaction"). A
        transaction left open and empty costs nothing; the partition's next owner fences it.
        """
        await self.commit(start_new_transaction=True)

    async def on_stop(self) -> None:
        await super().on_stop()  # waits for the streams, then the final commit
        if self.app.crash_reason is None and self.crash_reason is None:
            release_tables(Path(self.app.conf.tabledir))


class Transport(aiokafka_driver.Transport):  # type: ignore[misc]  # faust is untyped here
    """Faust's aiokafka transport with the consumer and transactions above; ``batch_reader`` is
    set by the wiring before the worker starts."""

    Consumer = Consumer
    TransactionManager = SourcePartitionTransactions
    batch_reader: BatchReader | None = None


async def seek_in_consumer_thread(consumer: Any, offsets: dict[Any, int]) -> None:
    """Move the fetch positions of ``offsets``' partitions, in Faust's consumer thread.

    aiokafka's consumer belongs to that thread's event loop: its ``seek`` drops the partition's
    fetched records and wakes the fetcher with a future of that loop. Faust's own ``seek`` calls
    it from the caller's thread, where the wake-up is not seen until something else wakes the
    fetcher.
    """
    if not offsets:
        return
    thread = consumer._thread
    client = thread._ensure_consumer()

    def seek_all() -> None:
        for tp, offset in offsets.items():
            client.seek(TopicPartition(tp.topic, tp.partition), offset)

    await thread.call_thread(seek_all)


async def start_offsets(consumer: Any) -> None:
    """Give each assigned partition without a committed offset the log start as one (``earliest``).

    Faust reads a committed offset of 0 as none at all; the batch path reads each partition from
    its committed offset on (``streams.reading``), so it needs one for every partition.
    """
    if consumer.app.conf.consumer_auto_offset_reset != "earliest":
        return  # under ``latest`` the reading starts at the end on purpose
    unset = [tp for tp in consumer.assignment() if consumer._committed_offset.get(tp) is None]
    if unset:
        starts = await consumer.earliest_offsets(*unset)
        for tp, offset in starts.items():
            if consumer._committed_offset.get(tp) is None:
                consumer._committed_offset[tp] = offset

"""Exactly-once that holds for this topology, installed as the app's Faust transport.

faust-streaming 0.15.3's ``processing_guarantee="exactly_once"`` runs one Kafka transaction
per partition ``p`` of the source topics (``<app id>-<group>-<p>``) and commits the consumed
offsets in it. Read in ``faust/transport/consumer.py``, ``faust/tables/`` and
``faust/transport/drivers/aiokafka.py``, these keep that from being exactly-once here:

1. ``TransactionManager.send`` picks the transaction by the *destination* partition, and only
   for topics the app consumes. Records to ``events.*``, ``state.message.v1`` and the cascade
   topic find no partition count in the consumer's metadata and are sent by the plain
   producer, outside every transaction: a crash before the commit doubles them.
2. A table write reaches the producer later, from a buffer task (``send_soon``); the commit does
   not wait for it. A commit can take an event's offset while its table write goes into the next
   transaction, and a crash then loses the write although the offset is committed.
3. The commit task runs between any two awaits of an agent, so one transaction can hold half
   of an event's records while the event's offset goes with the next one.
4. On a rebalance Faust forgets the offsets acked since the last commit before it commits, then
   processes those events again into the same open transaction: their records twice.
5. The table restore compares a partition's persisted changelog offset with the partition's
   end, read as the last stable offset *cached from the last fetch*: stale once the worker wrote
   to its changelog, and the restore stops with ``ConsistencyError``.
6. The restore waits for the record at the end offset - 1, a transaction marker that no consumer
   receives, until a 10 s fallback, on every rebalance (``streams.changelogends``).
7. A partition's transactional producer outlives the partition moving to another worker, whose
   producer fences it; when the partition comes back the stale producer is used again, and the
   first commit fails with ``ProducerFenced`` and crashes the worker.

The fix, point by point: records sent while an event is processed go into the transaction of
the event's source partition (the one its offset commits in); a commit first waits until every
table write handed out so far is delivered; commits and events take turns (one lock), and the
agent acks its event before it lets go; a revocation commits first and closes every transactional
producer (an assignment starts fresh ones), and an event taken before a rebalance is dropped
(it comes again, from the seek after the rebalance or else from ``streams.holes``); changelog
ends are asked from the broker and moved back before the markers. With ``at_least_once``
points 2 to 4 close the same gaps.

The local RocksDB tables hold writes at once, committed or not. After a run that did not end
with its final commit (SIGKILL, crash, power loss) they may be ahead of the changelog, and
re-applying an event would then change nothing and write nothing. So a worker that finds the
"in use" marker of such a run discards its tables and rebuilds them from the changelogs.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, NoReturn

import faust
from aiokafka.errors import KafkaError
from faust.streams import current_event
from faust.transport.consumer import TopicPartitionGroup, TransactionManager
from faust.transport.drivers import aiokafka as aiokafka_driver

from streams import changelogends, holes
from streams.errors import OutputError

logger = logging.getLogger(__name__)

EXIT_OUTPUT_FAILED = 75  # EX_TEMPFAIL: a record could not be handed to Kafka; restart the worker
IN_USE_MARKER = "tables.in-use"  # beside the table dir, from start until a clean stop

_turn = asyncio.Lock()  # a commit and the processing of one event, or one batch, never interleave
_undelivered: list[Any] = []  # records handed to the producer since the last commit (their futures)
hole_watch = holes.HoleWatch()
dense_topics: set[str] = set()  # topics written without transactions: each offset is a record
batch_reader: Any = None  # streams.rawbatches.RawBatches: the topics read a fetched batch at a time


async def process(event: Any, handle: Callable[[Any], Awaitable[None]]) -> None:
    """Handle ``event`` between two commits, and ack it before the next commit can start.

    An event taken before a rebalance began is dropped unhandled: it is delivered again
    from the committed offset afterwards, to this worker or to the partition's new owner
    (``streams.holes`` makes sure of that). An event processed already is skipped.
    When a record of the event cannot be handed to Kafka (``OutputError``), the process exits
    at once with ``EXIT_OUTPUT_FAILED``: nothing of the event, nor after it, is committed, and
    a restarted worker processes it again (its tables are rebuilt, as after a crash).
    Otherwise not acked when ``handle`` raises: Faust's own ack then follows, as without this.
    """
    async with _turn:
        message = event.message
        consumer = event.app.consumer
        if not _current(event) or hole_watch.processed_already(consumer, message.tp, message.offset):
            message.acked = True  # forgotten, not acked: no offset is committed for it
            return
        try:
            await handle(event)
        except OutputError as exc:
            stop_at_once(message, exc)
        event.ack()


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


def _current(event: Any) -> bool:
    app = event.app
    return bool(app.flow_control.is_active()) and event.message.generation_id == app.consumer_generation_id


class TrackedTable(faust.Table):  # type: ignore[misc]  # faust is untyped here
    """A table whose changelog writes the next commit waits for."""

    def send_changelog(self, *args: Any, **kwargs: Any) -> Any:
        future = super().send_changelog(*args, **kwargs)
        _undelivered.append(future)
        return future


class SourcePartitionTransactions(TransactionManager):  # type: ignore[misc]  # faust is untyped here
    """Sends go into the transaction of the source partition of the event being processed."""

    async def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partition: int | None,
        timestamp: float | None,
        headers: Any,
        *,
        transactional_id: str | None = None,
    ) -> Any:
        event = current_event()
        if event is None:  # a table write from the producer buffer: its partition is the source's
            return await super().send(topic, key, value, partition, timestamp, headers)
        owner = self.transactional_id_for(event.message.tp)
        return await self.producer.send(
            topic, key, value, partition, timestamp, headers, transactional_id=owner
        )

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
    """Commits only between events, after the table writes of the events so far."""

    def _new_consumer_thread(self) -> ConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    def awaits_delivery(self, futures: list[Any]) -> None:
        """The next commit waits until Kafka has these records."""
        _undelivered.extend(futures)

    async def _wait_next_records(self, timeout: float) -> Any:  # noqa: ASYNC109  (Faust's signature)
        """Faust's fetch, with the raw partitions' records taken out and processed a batch at a time.

        Each partition's batch is processed under the turn (between two commits), in a task of its
        own that a cancelled fetcher (a rebalance or a stop cancels it) does not cut short: a batch
        is processed whole or not at all.
        """
        records, active = await super()._wait_next_records(timeout)
        if records and batch_reader is not None:
            batched = {tp: records.pop(tp) for tp in [tp for tp in records if batch_reader.reads(tp)]}
            if batched:
                await asyncio.shield(asyncio.ensure_future(self._process_batches(batched)))
        return records, active

    async def _process_batches(self, batched: dict[Any, list[Any]]) -> None:
        for tp, records in batched.items():
            async with _turn:
                try:
                    await batch_reader.handle(self, tp, records)
                except OutputError as exc:
                    stop_at_once(records[0], exc)

    def _filter_tps_with_pending_acks(self, topics: Any = None) -> Any:
        yield from super()._filter_tps_with_pending_acks(topics)
        if batch_reader is not None:
            for tp in list(batch_reader.next_offsets):
                if topics is None or tp in topics or tp.topic in topics:
                    yield tp

    async def force_commit(self, topics: Any = None, start_new_transaction: bool = True) -> bool:
        async with _turn:
            if _undelivered:
                pending = list(_undelivered)
                _undelivered.clear()
                await asyncio.gather(*pending)  # raises, and commits nothing, if one failed
            committed: bool = await super().force_commit(topics, start_new_transaction=start_new_transaction)
            await hole_watch.after_commit(self)
            return committed

    def _new_offset(self, tp: Any) -> int | None:
        """Faust's, except that it never commits past an offset that may hold a record it lost.

        Faust passes one missing offset after the committed one, where a transaction marker
        may stand, and reads a committed offset of 0 as none at all (so it commits past any
        records missing at the start). Here 0 counts like any offset, and in the topics written
        without transactions (``dense_topics``: the raw and replay topics), where every offset
        is a record, no missing offset is passed. ``streams.holes`` reads the missing ones again.
        """
        if batch_reader is not None and batch_reader.reads(tp):
            return batch_reader.commit_offset(tp)  # type: ignore[no-any-return]
        committed = self._committed_offset[tp]
        acked = self._acked[tp]
        if committed is not None and acked:
            lowest = min(acked)
            if self._gap[tp]:
                lowest = min(lowest, self._gap[tp].begin())
            if lowest - committed > (0 if tp.topic in dense_topics else 1):
                return None
        offset: int | None = super()._new_offset(tp)
        return offset

    async def perform_seek(self) -> None:
        await super().perform_seek()
        await holes.start_offsets(self)
        if batch_reader is not None:
            batch_reader.start(self)

    async def on_partitions_revoked(self, revoked: Any) -> None:
        """Commit what was processed before Faust forgets it.

        Faust drops the acked offsets of revoked partitions first (with the eager protocol
        that is every partition) and commits after, so the work since the last commit would
        be done again after the rebalance, while its records are still in the open
        transaction: everything of those events twice. Here no new event starts, the one in
        progress finishes, and its offsets commit with its records, before that.
        """
        self.app.flow_control.suspend()
        try:
            await self.commit()
        finally:
            hole_watch.forget()
            if batch_reader is not None:
                batch_reader.forget()
            await self.transactions.close_all()
            await super().on_partitions_revoked(revoked)

    async def commit_and_end_transactions(self) -> None:
        """Commit, and keep a transaction open for each partition still assigned.

        Faust ends them here, and calls this while stopping (and rebalancing) before the
        agents are done: the events they still finish would then be sent, and committed,
        outside any transaction (aiokafka: "Not in the middle of a transaction"). A
        transaction left open and empty costs nothing; the partition's next owner fences it.
        """
        await self.commit(start_new_transaction=True)

    async def on_stop(self) -> None:
        await super().on_stop()  # waits for the streams, then the final commit
        if self.app.crash_reason is None and self.crash_reason is None:
            release_tables(Path(self.app.conf.tabledir))


class Transport(aiokafka_driver.Transport):  # type: ignore[misc]  # faust is untyped here
    Consumer = Consumer
    TransactionManager = SourcePartitionTransactions


def claim_tables(tabledir: Path) -> bool:
    """Mark the tables in use; discard them first if the last run did not stop cleanly.

    Returns whether they were discarded (the worker then restores them from the changelogs).
    """
    marker = tabledir.parent / IN_USE_MARKER
    discarded = marker.exists() and tabledir.exists()
    if discarded:
        logger.warning("tables of an unclean stop discarded, restoring from the changelogs dir=%s", tabledir)
        shutil.rmtree(tabledir)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    return discarded


def release_tables(tabledir: Path) -> None:
    """The tables match the committed changelogs: the next run may keep them."""
    (tabledir.parent / IN_USE_MARKER).unlink(missing_ok=True)

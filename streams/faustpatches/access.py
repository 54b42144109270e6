"""The private parts of Faust 0.15.3 (and of the aiokafka client inside it) that the rest of the
worker needs, read and written here only, so that a Faust upgrade is reviewed in one package."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka import TopicPartition

logger = logging.getLogger(__name__)

POSITION_TIMEOUT_S = 5.0


def committed_offsets(consumer: Any, partitions: list[TopicPartition]) -> dict[TopicPartition, int | None]:
    """The offsets Faust's consumer holds as committed (None: none yet) for ``partitions``."""
    committed = consumer._committed_offset
    return {tp: committed.get(tp) for tp in partitions}


def partition_store(table: Any, partition: int) -> Any:
    """The RocksDB (rocksdict ``Rdict``) of one partition of ``table``."""
    return table.data._db_for_partition(partition)


def app_producer(app: Any) -> Any:
    """The aiokafka producer behind the app's producer (sends outside transactions)."""
    return app.producer._ensure_producer()


def persist_changelog_offset(app: Any, table: Any, delivered: Any, records: int) -> None:
    """Faust's ``Table._on_changelog_sent`` for a whole batch of ``records`` changelog records:
    the table's persisted offset moves to the batch's last record, once its transaction commits
    (at once without transactions). ``delivered``: the batch's delivery future, done."""
    if delivered.cancelled() or delivered.exception() is not None:
        return  # the commit that waits for it fails, and nothing is persisted
    first = delivered.result()
    last = first.offset + records - 1
    if app.in_transaction:
        app.tables.persist_offset_on_commit(table.data, first.topic_partition, last)
    else:
        table.data.set_persisted_offset(first.topic_partition, last)


def max_request_size(producer: Any) -> int:
    """The largest request an aiokafka producer sends (``max_request_size``)."""
    size: int = producer._max_request_size
    return size


async def topic_metadata(producer: Any, topic: str) -> None:
    """Have the aiokafka producer's client know ``topic``'s partitions (it asks the broker)."""
    await producer.client._wait_on_metadata(topic)


def mark_inbound(app: Any, tp: Any, at: float) -> None:
    """Tell Faust's monitor that ``tp`` had records at ``at`` (its stall warnings read it)."""
    app.monitor.stream_inbound_time[tp] = at


def running_consumer(app: Any) -> Any | None:
    """The app's consumer, or None before the worker started it (asking ``app.consumer``
    would create one)."""
    return getattr(app, "_consumer", None)


async def consumer_lags(consumer: Any, partitions: list[Any]) -> dict[tuple[str, int], int]:
    """End offset minus position of each of ``partitions``, asked in Faust's consumer thread,
    where the aiokafka consumer lives; a partition without a position is left out."""
    thread = consumer._thread
    lags: dict[tuple[str, int], int] = await thread.call_thread(_lags, thread._ensure_consumer(), partitions)
    return lags


async def _lags(consumer: Any, partitions: list[Any]) -> dict[tuple[str, int], int]:
    """In the consumer's thread: under read_committed the end is the last stable offset."""
    ends = await consumer.end_offsets(partitions)
    lags: dict[tuple[str, int], int] = {}
    for tp in partitions:
        try:
            position = await asyncio.wait_for(consumer.position(tp), POSITION_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001  (a timeout, or revoked meanwhile: leave it out)
            logger.debug("no position topic=%s partition=%d error=%r", tp.topic, tp.partition, exc)
            continue
        lags[(tp.topic, tp.partition)] = max(0, ends[tp] - position)
    return lags

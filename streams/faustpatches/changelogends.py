"""Where the committed data of a transactional changelog partition ends.

Faust restores a table partition until it has applied the record at ``end offset - 1``.
Under transactions that offset holds the commit marker of the last transaction, which no
consumer ever receives, so the restore waits for it until a 10-second fallback
(``faust/tables/recovery.py``: "Aborted tx until highwater") on every rebalance. The end of
the data is found here instead, by reading the partition's tail with a ``read_committed``
consumer: the offset after its last committed record (markers and aborted records skipped).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

FIRST_WINDOW = 64  # offsets read back from the end first; grows 8x while no data is found there
READ_TIMEOUT_S = 10.0


async def data_ends(bootstrap_servers: list[str], ends: Mapping[Any, int]) -> dict[Any, int]:
    """For each partition (a TP with ``topic`` and ``partition``) and its last stable offset,
    the offset after its last committed record (0 when it has none)."""
    written = {tp: end for tp, end in ends.items() if end > 0}
    if not written:  # (and aiokafka's stop() right after assign() raises CancelledError)
        return dict(ends)
    return dict(ends) | await _read_tails(bootstrap_servers, written)


async def _read_tails(bootstrap_servers: list[str], ends: Mapping[Any, int]) -> dict[Any, int]:
    tail = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        isolation_level="read_committed",
        enable_auto_commit=False,
        group_id=None,
    )
    partitions = {tp: TopicPartition(tp.topic, tp.partition) for tp in ends}
    await tail.start()
    try:
        tail.assign(list(partitions.values()))  # once: each new assignment cancels aiokafka tasks
        return {tp: await _data_end(tail, partitions[tp], end) for tp, end in ends.items()}
    finally:
        await tail.stop()


async def _data_end(tail: AIOKafkaConsumer, tp: TopicPartition, end: int) -> int:
    window, stop = FIRST_WINDOW, end
    while stop > 0:
        start = max(0, stop - window)
        last = await _last_record_offset(tail, tp, start, stop)
        if last is not None:
            return last + 1
        window, stop = window * 8, start
    return 0


async def _last_record_offset(
    tail: AIOKafkaConsumer, tp: TopicPartition, start: int, stop: int
) -> int | None:
    """The offset of the last committed record in ``[start, stop)``, or None."""
    tail.seek(tp, start)
    last = None
    deadline = asyncio.get_running_loop().time() + READ_TIMEOUT_S
    while await tail.position(tp) < stop:
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(
                f"{tp.topic}[{tp.partition}] not read up to offset {stop} in {READ_TIMEOUT_S}s"
            )
        batch = await tail.getmany(tp, timeout_ms=500)
        offsets = [record.offset for record in batch.get(tp, []) if record.offset < stop]
        last = max(offsets, default=last)
    return last

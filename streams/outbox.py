"""A batch's output records handed to the producer as Kafka record batches, not one by one.

``AIOKafkaProducer.send`` costs a coroutine, a partitioner call, a future and, on delivery, a
``RecordMetadata`` and a scheduled callback per record: about a third of the worker's time went
there once the rest was batched (docs/architecture.md, "The batch path"). Here each topic
partition's records are appended to one aiokafka ``BatchBuilder`` (the same record batch the
producer would have built), handed over with ``send_batch``: one future per batch. Inside a
transaction the producer adds the partition to it as for ``send``.

A record without a partition goes where the producer's partitioner (Kafka's murmur2 of the key,
as the Java client) would put it; each key's hash is computed once per batch, as an event and its
message's state share the key.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiokafka.partitioner import murmur2
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from streams.batches import Output
from streams.errors import OutputError
from streams.faustpatches import access


@dataclass(frozen=True)
class SentBatch:
    """One record batch handed to the producer: ``delivered`` resolves to the ``RecordMetadata`` of
    its first record (``offset``: the base offset) once Kafka has the whole batch."""

    topic: str
    partition: int
    records: int
    delivered: Any  # asyncio.Future[RecordMetadata]


class Outbox:
    """The records of one batch, grouped per topic partition into record batches."""

    def __init__(self, producer: Any) -> None:
        self._producer = producer
        self._hashes: dict[bytes, int] = {}
        self._partitions: dict[str, list[int]] = {}

    async def send(self, outputs: Iterable[Output]) -> list[SentBatch]:
        """Hand every record of ``outputs`` to the producer, in order within each topic partition,
        without waiting for Kafka; raises :class:`OutputError` if the producer refuses one."""
        filling: dict[tuple[str, int], _Filling] = {}
        sent: list[SentBatch] = []
        for output in outputs:
            partition = output.partition
            if partition is None:
                partition = await self._partition_of(output.topic, output.key)
            where = (output.topic, partition)
            batch = filling.get(where)
            if batch is None or not batch.append(output):  # none yet, or full: go on in a new one
                if batch is not None:
                    sent.append(await self._hand_over(output.topic, partition, batch))
                batch = filling[where] = self._new_batch(output)
        for (topic, partition), batch in filling.items():
            sent.append(await self._hand_over(topic, partition, batch))
        return sent

    def _new_batch(self, output: Output) -> _Filling:
        """A batch that starts with ``output`` (a batch takes its first record whatever its size, so
        the size is checked here, as ``AIOKafkaProducer.send`` checks it)."""
        size = DefaultRecordBatchBuilder.estimate_size_in_bytes(
            output.key, output.value, output.headers or []
        )
        largest = access.max_request_size(self._producer)
        if size > largest:
            raise OutputError(
                f"{output.topic}: a record of {size} bytes is larger than the producer's "
                f"max_request_size ({largest})"
            )
        batch = _Filling(self._producer.create_batch())
        batch.append(output)
        return batch

    async def _hand_over(self, topic: str, partition: int, batch: _Filling) -> SentBatch:
        try:
            delivered = await self._producer.send_batch(batch.builder, topic, partition=partition)
        except Exception as exc:
            raise OutputError.refused(topic, exc) from exc
        return SentBatch(topic, partition, batch.records, delivered)

    async def _partition_of(self, topic: str, key: bytes) -> int:
        partitions = self._partitions.get(topic)
        if partitions is None:
            partitions = self._partitions[topic] = await self._topic_partitions(topic)
        hashed = self._hashes.get(key)
        if hashed is None:
            hashed = self._hashes[key] = murmur2(key) & 0x7FFFFFFF
        return partitions[hashed % len(partitions)]

    async def _topic_partitions(self, topic: str) -> list[int]:
        """The topic's partitions in order, as the producer's partitioner takes them."""
        try:
            await access.topic_metadata(self._producer, topic)
        except Exception as exc:
            raise OutputError.refused(topic, exc) from exc
        return sorted(self._producer.client.cluster.partitions_for_topic(topic))


class _Filling:
    """A record batch being filled: aiokafka's ``BatchBuilder`` and how many records it holds."""

    __slots__ = ("builder", "records")

    def __init__(self, builder: Any) -> None:
        self.builder = builder
        self.records = 0

    def append(self, output: Output) -> bool:
        """False when the batch is full (the record is not in it)."""
        added = self.builder.append(
            timestamp=None, key=output.key, value=output.value, headers=output.headers or []
        )
        if added is None:
            return False
        self.records += 1
        return True

"""A message-state table's changelog written directly, as the worker's table writes it.

Building a million states by running a worker over a million callbacks would take most of
an hour on two cores; recovery only needs the changelog. Each state here is made by the
worker's own pure code from the benchmark's realistic callbacks: the raw records the
gateway would write (``bench.preload.raw_records``), ``streams.raw.decode_raw``,
``streams.normalize.normalize``, ``streams.state.apply`` and ``streams.staterecords.to_json``.
A changelog record is what Faust sends for ``message_states[key] = value`` (keys and values
serialized raw, ``streams.tables``): key = the message key bytes, value = the table value
bytes, no headers, in the partition of the raw record it came from (the murmur2 partition
of the same key, as the gateway's producer partitions, over the same partition count).

Only the latest state of each message is written, as in a compacted changelog.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import os
from collections.abc import Iterator, Mapping
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2

from bench.payloads import MIX, requests
from bench.preload import raw_records
from schemas.topicnames import TopicNames
from streams import state, staterecords
from streams.canonical import SourceRef
from streams.normalize import normalize
from streams.raw import decode_raw

RECEIVED_AT = b"2026-11-26T10:00:05.000Z"  # the gateway's receive time (RecessMobile states use it)
SOURCE = SourceRef("bench", 0, 0)  # not part of a state
CHUNK = 4000  # requests per piece of work for a generating process (a multiple of len(MIX))
MAX_BATCH_BYTES = 512 * 1024  # below the broker's default message.max.bytes

State = tuple[bytes, bytes]
Sampled = tuple[int, bytes, bytes]  # position in the sequence, key, value


def states_of(first: int, stop: int) -> list[State]:
    """(message key, table value) of the messages of requests ``first`` .. ``stop - 1`` of the
    realistic mix (``bench.payloads``), each state after all its callbacks, in order."""
    found: list[State] = []
    names = TopicNames()
    source = requests(first)
    for _ in range(stop - first):
        held: dict[bytes, state.MessageState] = {}
        for _, key, value, headers in raw_records(next(source), names, RECEIVED_AT):
            for event in normalize(decode_raw(key, value, headers, SOURCE)):
                applied = state.apply(held.get(event.message_key.encode()), event)
                if applied is not None:
                    held[event.message_key.encode()] = applied
        found += [(key, staterecords.to_json(held_state)) for key, held_state in held.items()]
    return found


def _chunk(number: int) -> list[State]:
    return states_of(number * CHUNK, (number + 1) * CHUNK)


def states(total: int, processes: int | None = None) -> Iterator[State]:
    """The first ``total`` states of the mix, made by ``processes`` processes (default: one per core)."""
    processes = processes or len(os.sched_getaffinity(0))
    per_cycle = len(states_of(0, len(MIX)))  # messages in one round of the mix
    chunks = math.ceil(total * len(MIX) / (per_cycle * CHUNK))
    made = 0
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        for chunk in pool.imap(_chunk, range(chunks), chunksize=1):  # (imap queues all the tasks)
            yield from chunk[: total - made]
            made += min(len(chunk), total - made)
            if made >= total:
                return


def partition_of(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner (murmur2, as the gateway's) gives ``key``."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def rendered(value: bytes) -> dict[str, Any]:
    """What the table view answers for a table value (``streams.views.render_message``)."""
    document: dict[str, Any] = staterecords.jsonable(staterecords.to_record(staterecords.from_json(value)))
    return document


async def write(
    bootstrap: str, sizes: Mapping[str, int], partitions: int, sample_every: int = 0
) -> list[Sampled]:
    """Write to each changelog topic of ``sizes`` its number of states (the first N of the
    same sequence), in large batches. Returns every ``sample_every``-th state (none for 0)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        max_batch_size=MAX_BATCH_BYTES,
        request_timeout_ms=60_000,
    )
    await producer.start()
    sample: list[Sampled] = []
    try:
        batches = {(t, p): producer.create_batch() for t in sizes for p in range(partitions)}
        pending: list[asyncio.Future[Any]] = []
        for position, (key, value) in enumerate(states(max(sizes.values(), default=0))):
            partition = partition_of(key, partitions)
            for topic in (t for t, size in sizes.items() if position < size):
                batch = batches[topic, partition]
                if batch.append(key=key, value=value, timestamp=None) is None:  # full
                    pending.append(await producer.send_batch(batch, topic, partition=partition))
                    batch = batches[topic, partition] = producer.create_batch()
                    batch.append(key=key, value=value, timestamp=None)
            if sample_every and position % sample_every == 0:
                sample.append((position, key, value))
            if len(pending) >= 32:
                await asyncio.gather(*pending)
                pending = []
        for (topic, partition), batch in batches.items():
            if batch.record_count():
                pending.append(await producer.send_batch(batch, topic, partition=partition))
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return sample

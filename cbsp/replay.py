"""``cbsp replay``: put a slice of history through normalization again.

Raw records (and dead letters) are copied, with the coordinates of the original raw
record in ``source_*`` headers, to ``callbacks.replay``: a topic keyed and partitioned
like the raw topics that the workers read beside them, with the same normalization
and state logic. Event ids are deterministic and the state merge is idempotent, so a
replay over data already processed changes no state. Refused requests
(``callbacks.rejected``) are split by the gateway's provider code and, if they now
pass, written to their raw topic: from then on they are part of the record.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from tqdm import tqdm

from cbsp.replayplan import ReplayArgumentError, Slice, clamp, millis, parse_offsets, parse_when
from cbsp.replayrecords import ReplayStats, to_replay_records
from schemas.topicadmin import partitions_of
from schemas.topicnames import PROVIDERS, TopicNames

ENV_BOOTSTRAP = "KAFKA_BOOTSTRAP_SERVERS"
ENV_TOPIC_PREFIX = "CBSP_TOPIC_PREFIX"
SOURCES = ("raw", "dlq", "rejected")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="cbsp replay",
        description="Put a slice of the raw topics (or of callbacks.dlq / callbacks.rejected) "
        "through normalization again. Idempotent: replaying twice changes nothing.",
    )
    parser.add_argument(
        "--from",
        dest="source",
        choices=SOURCES,
        default="raw",
        help="raw topics (default), the dead letters, or the refused requests",
    )
    parser.add_argument(
        "--provider",
        action="append",
        choices=PROVIDERS,
        help="raw topics of this provider (repeatable; default: all)",
    )
    parser.add_argument("--since", help="RFC 3339 time or relative (30m, 2h, 7d): records from then")
    parser.add_argument("--until", help="RFC 3339 time or relative: records before then (default: now)")
    parser.add_argument(
        "--offsets",
        action="append",
        default=[],
        help="TOPIC:PARTITION:START-END explicit range, END exclusive (repeatable)",
    )
    parser.add_argument("--dry-run", action="store_true", help="print what would be replayed, send nothing")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def source_topics(args: argparse.Namespace, names: TopicNames) -> list[str]:
    if args.source == "dlq":
        return [names.dlq]
    if args.source == "rejected":
        return [names.rejected]
    return [names.raw(provider) for provider in (args.provider or PROVIDERS)]


async def plan(
    consumer: AIOKafkaConsumer, bootstrap: str, args: argparse.Namespace, names: TopicNames
) -> list[Slice]:
    """The slices to replay: explicit --offsets, else each partition between --since and --until."""
    if args.offsets:
        wanted = list(args.offsets)
    else:
        since, until = args.since, args.until
        wanted = []
        for topic in source_topics(args, names):
            for partition in await partitions_of(bootstrap, topic):
                tp = TopicPartition(topic, partition)
                start = await _offset_at(consumer, tp, since, default_end=False)
                end = await _offset_at(consumer, tp, until, default_end=True)
                wanted.append(Slice(topic, partition, start, end))
    return [await _existing(consumer, s) for s in wanted]


async def _offset_at(
    consumer: AIOKafkaConsumer, tp: TopicPartition, moment: datetime | None, default_end: bool
) -> int:
    if moment is not None:
        found = (await consumer.offsets_for_times({tp: millis(moment)}))[tp]
        if found is not None:
            return int(found.offset)
        default_end = True  # nothing at or after that time
    offsets = await (consumer.end_offsets([tp]) if default_end else consumer.beginning_offsets([tp]))
    return int(offsets[tp])


async def _existing(consumer: AIOKafkaConsumer, wanted: Slice) -> Slice:
    tp = TopicPartition(wanted.topic, wanted.partition)
    first = (await consumer.beginning_offsets([tp]))[tp]
    last = (await consumer.end_offsets([tp]))[tp]
    return clamp(wanted, int(first), int(last))


def describe(slices: Sequence[Slice]) -> str:
    lines = [
        f"  {s.topic} [{s.partition}] offsets {s.start}..{s.end - 1}: {s.count} records"
        for s in slices
        if s.count
    ]
    total = sum(s.count for s in slices)
    return "\n".join([*lines, f"  total: {total} records in {len(lines)} partitions"])


FETCH_MAX_WAIT_MS = 20


class Interrupted(Exception):  # noqa: N818  (a stop, not an error)
    """Ctrl-C during the sending: everything counted so far is delivered."""


async def replay(args: argparse.Namespace, bootstrap: str, names: TopicNames) -> int:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        isolation_level="read_committed",
        # Slices are read one partition after another; at each switch a fetch that found the
        # last partition at its end held the next one back for the broker's wait (500 ms by
        # default): 15.7 s of a 0.7 s replay of 5,000 records in 32 partitions.
        fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
    )
    await consumer.start()
    try:
        slices = [s for s in await plan(consumer, bootstrap, args, names) if s.count]
        print(f"replay from {args.source}:\n{describe(slices)}", flush=True)
        if args.dry_run or not slices:
            return 0
        return await _send(consumer, bootstrap, slices, args, names)
    finally:
        await consumer.stop()


async def _send(
    consumer: AIOKafkaConsumer,
    bootstrap: str,
    slices: list[Slice],
    args: argparse.Namespace,
    names: TopicNames,
) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    # Ctrl-C stops between two batches. Cancelling the task instead (asyncio.run's way) can be
    # lost: a cancellation that meets the timeout of aiokafka's getmany became its timeout,
    # and the replay ran on to the end.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, stop.set)
    stats = ReplayStats()
    started = time.monotonic()
    done: dict[Slice, int] = {s: s.start for s in slices}
    bar = tqdm(total=sum(s.count for s in slices), unit="rec", disable=args.no_progress, file=sys.stderr)
    try:
        for piece in slices:
            await _send_slice(consumer, producer, piece, names, stats, done, bar, stop)
        await producer.flush()
    except (Interrupted, KeyboardInterrupt, asyncio.CancelledError):
        await producer.flush()
        bar.close()
        remaining = [Slice(s.topic, s.partition, done[s], s.end) for s in slices if done[s] < s.end]
        resume = " ".join(f"--offsets {s.as_argument(names.prefix)}" for s in remaining)
        print(
            f"\ninterrupted: {stats.summary()}\nto resume: cbsp replay --from {args.source} {resume}",
            flush=True,
        )
        return 130
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        bar.close()
        await producer.stop()
    elapsed = time.monotonic() - started
    rate = stats.read / elapsed if elapsed > 0 else 0.0
    print(f"replay done: {stats.summary()} ({elapsed:.1f}s, {rate:.0f} records/s)", flush=True)
    return 0


async def _send_slice(
    consumer: AIOKafkaConsumer,
    producer: AIOKafkaProducer,
    piece: Slice,
    names: TopicNames,
    stats: ReplayStats,
    done: dict[Slice, int],
    bar: tqdm,
    stop: asyncio.Event,
) -> None:
    tp = TopicPartition(piece.topic, piece.partition)
    consumer.assign([tp])
    consumer.seek(tp, piece.start)
    while done[piece] < piece.end:
        if stop.is_set():
            raise Interrupted
        batch: list[ConsumerRecord] = (await consumer.getmany(tp, timeout_ms=1000)).get(tp, [])
        records = [r for r in batch if r.offset < piece.end]
        counts = stats.batch()
        acks = []
        for record in records:
            for out in to_replay_records(record, names, counts):
                acks.append(await producer.send(out.topic, value=out.value, key=out.key, headers=out.headers))
        await asyncio.gather(*acks)
        stats.add(counts)  # counted, and marked done below, only once Kafka has all of them
        position = await consumer.position(tp)
        bar.update(min(position, piece.end) - done[piece])
        done[piece] = min(position, piece.end)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    names = TopicNames(os.environ.get(ENV_TOPIC_PREFIX, ""))
    bootstrap = os.environ.get(ENV_BOOTSTRAP, "127.0.0.1:39092")
    now = datetime.now(UTC)
    try:  # every argument is understood before anything connects
        args.since = parse_when(args.since, now) if args.since else None
        args.until = parse_when(args.until, now) if args.until else None
        args.offsets = [parse_offsets(text, names.prefix) for text in args.offsets]
    except ReplayArgumentError as exc:
        print(f"cbsp replay: {exc}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(replay(args, bootstrap, names))
    except KeyboardInterrupt:
        return 130

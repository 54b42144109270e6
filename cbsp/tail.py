"""``cbsp tail``: print a topic as JSON lines, Avro values decoded, raw values with their headers."""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import os
import sys
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any, TextIO

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from schemas.topicadmin import partitions_of
from streams import codecs
from streams.errors import CodecError
from streams.schemaregistry import RegistryError, RegistrySettings, SchemaRegistry

ENV_BOOTSTRAP = "KAFKA_BOOTSTRAP_SERVERS"
ENV_TOPIC_PREFIX = "CBSP_TOPIC_PREFIX"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="cbsp tail",
        description="Print a topic as JSON lines: Avro values decoded, raw values with their headers.",
    )
    parser.add_argument("topic", help="a contract topic name such as events.status.v1 (the prefix is added)")
    parser.add_argument("--from-beginning", action="store_true", help="start at the oldest record")
    parser.add_argument("--follow", "-f", action="store_true", help="keep waiting for new records")
    parser.add_argument("--key", help="only records with this key (a message key such as revicom:<id>)")
    parser.add_argument("--limit", type=int, default=0, help="stop after this many records (0: no limit)")
    return parser.parse_args(argv)


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return value


def render(record: ConsumerRecord, lookup: codecs.SchemaLookup | None = None) -> dict[str, Any]:
    """One record as a JSON-able dict: Avro decoded (single-object, or the Confluent wire format
    with the registry's schema by id, ``lookup``), JSON parsed, anything else as text."""
    raw_headers = {key: bytes(value) for key, value in record.headers}
    headers = {key: value.decode(errors="replace") for key, value in raw_headers.items()}
    line: dict[str, Any] = {
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "timestamp": record.timestamp,
        "key": record.key.decode(errors="replace") if record.key is not None else None,
        "headers": headers,
    }
    value = record.value or b""
    if value[:2] == codecs.MARKER or (value[:1] == codecs.CONFLUENT_MAGIC and "schema" in raw_headers):
        try:
            name, decoded = codecs.decode(value, raw_headers, lookup)
            return {**line, "schema": name, "value": jsonable(decoded)}
        except (CodecError, RegistryError) as exc:
            return {**line, "value_error": str(exc), "value": value.hex()}
    try:
        return {**line, "value": json.loads(value)}
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {**line, "value": value.decode(errors="replace")}


async def tail(
    args: argparse.Namespace,
    bootstrap: str,
    topic: str,
    out: TextIO,
    lookup: codecs.SchemaLookup | None = None,
) -> int:
    partitions = await partitions_of(bootstrap, topic)
    if not partitions:
        print(f"cbsp tail: no topic {topic!r} on {bootstrap}", file=sys.stderr)
        return 2
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, isolation_level="read_committed"
    )
    await consumer.start()
    try:
        assigned = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(assigned)
        if args.from_beginning:
            await consumer.seek_to_beginning(*assigned)
        else:
            await consumer.seek_to_end(*assigned)
        ends = None if args.follow else await consumer.end_offsets(assigned)
        return await _print_records(consumer, args, out, _key_filter(args.key), ends, lookup)
    finally:
        await consumer.stop()


def _key_filter(key: str | None) -> Callable[[ConsumerRecord], bool]:
    wanted = key.encode() if key is not None else None
    return lambda record: wanted is None or record.key == wanted


async def _at_end(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for partition, end in ends.items():
        if await consumer.position(partition) < end:
            return False
    return True


async def _print_records(
    consumer: AIOKafkaConsumer,
    args: argparse.Namespace,
    out: TextIO,
    wanted: Callable[[ConsumerRecord], bool],
    ends: dict[TopicPartition, int] | None,
    lookup: codecs.SchemaLookup | None,
) -> int:
    """Print until the limit, or (without --follow) until the end offsets seen at the start."""
    printed = 0
    idle = 0
    while True:
        if ends is not None and (await _at_end(consumer, ends) or idle >= 3):
            return 0
        batches = await consumer.getmany(timeout_ms=1000)
        idle = 0 if batches else idle + 1
        for records in batches.values():
            for record in records:
                if wanted(record):
                    out.write(json.dumps(render(record, lookup), ensure_ascii=False) + "\n")
                    printed += 1
                    if args.limit and printed >= args.limit:
                        out.flush()
                        return 0
        out.flush()


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    logging.getLogger("aiokafka").setLevel(logging.WARNING)  # stdout is for records, stderr for trouble
    bootstrap = os.environ.get(ENV_BOOTSTRAP, "127.0.0.1:39092")
    topic = os.environ.get(ENV_TOPIC_PREFIX, "") + args.topic
    try:
        registry = RegistrySettings.from_env()
    except ValueError as exc:
        print(f"cbsp tail: {exc}", file=sys.stderr)
        return 2
    lookup = None if registry is None else SchemaRegistry(registry).writer_schema
    try:
        return asyncio.run(tail(args, bootstrap, topic, sys.stdout, lookup))
    except KeyboardInterrupt:
        return 130

"""Preload raw topics with N realistic raw callbacks, exactly as the gateway writes them
(the gateway's own provider code splits and keys them), with provider retries
(duplicates) and out-of-order arrival mixed in."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer

from bench.payloads import Request, requests
from gateway.bodies import decode_body
from gateway.providers import REGISTRY
from schemas.topicnames import TopicNames

Record = tuple[str, bytes, bytes, list[tuple[str, bytes]]]


def raw_records(request: Request, names: TopicNames, received_at: bytes) -> list[Record]:
    provider = REGISTRY[request.provider]
    body = decode_body(request.body, request.content_type, None, provider.content_types, request.provider)
    return [
        (
            names.raw(c.provider),
            c.message_key.encode(),
            json.dumps(c.payload, separators=(",", ":")).encode(),
            [
                ("provider", c.provider.encode()),
                ("kind", c.kind.encode()),
                ("received_at", received_at),
                ("request_id", b"bench"),
                ("source_ip", b"127.0.0.1"),
            ],
        )
        for c in provider.split(body)
    ]


def mixed(count: int, names: TopicNames, seed: int = 7) -> Iterator[Record]:
    """``count`` raw records: 10% provider retries, shuffled in windows of 200 (late arrivals)."""
    rng = random.Random(seed)
    received_at = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z").encode()
    window: list[Record] = []
    produced = 0
    for request in requests():
        for record in raw_records(request, names, received_at):
            window.append(record)
            if rng.random() < 0.10:
                window.append(record)  # the provider retried
        if len(window) >= 200:
            rng.shuffle(window)
            for record in window[: count - produced]:
                yield record
            produced += min(len(window), count - produced)
            window = []
            if produced >= count:
                return


async def preload(bootstrap: str, names: TopicNames, count: int) -> int:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=20, max_batch_size=262144
    )
    await producer.start()
    sent = 0
    try:
        acks = []
        for topic, key, value, headers in mixed(count, names):
            acks.append(await producer.send(topic, value=value, key=key, headers=headers))
            sent += 1
            if len(acks) >= 5000:
                await asyncio.gather(*acks)
                acks = []
        await asyncio.gather(*acks)
    finally:
        await producer.stop()
    return sent

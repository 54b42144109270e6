"""The client ceiling: a plain aiokafka loop (consume -> decode JSON -> encode Avro -> produce),
no state, no Faust. `python -m bench.plainloop BOOTSTRAP PREFIX COUNT` prints JSON."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from schemas.topicnames import TopicNames
from streams import codecs


def event_of(key: bytes, payload: dict[str, object], offset: int) -> dict[str, object]:
    now = datetime.now(UTC)
    return {
        "event_id": str(offset),
        "message_key": key.decode(),
        "provider": "bench",
        "provider_message_id": "x",
        "channel": None,
        "cascade_id": None,
        "cascade_step": None,
        "occurred_at": now,
        "received_at": now,
        "source": {"topic": "t", "partition": 0, "offset": offset},
        "status": "DELIVERED",
        "status_rank": 50,
        "is_final": True,
        "provider_status": str(payload.get("status", "")),
        "error_code": None,
        "read_state": None,
    }


async def clients(bootstrap: str, names: TopicNames) -> tuple[AIOKafkaConsumer, AIOKafkaProducer]:
    """A consumer of the raw topics from their start (no group) and an idempotent acks=all
    producer, both started: what the baseline loops read and write with."""
    consumer = AIOKafkaConsumer(
        *names.raw_all(),
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
    await consumer.start()
    await producer.start()
    return consumer, producer


async def run(bootstrap: str, names: TopicNames, count: int) -> dict[str, float]:
    consumer, producer = await clients(bootstrap, names)
    done = 0
    began = time.perf_counter()
    try:
        while done < count:
            batches = await consumer.getmany(timeout_ms=1000, max_records=2000)
            acks = []
            for records in batches.values():
                for r in records:
                    value = codecs.encode(
                        "MessageStatusEvent", event_of(r.key or b"", json.loads(r.value or b"{}"), r.offset)
                    )
                    acks.append(await producer.send(names.event("status") + ".plain", value=value, key=r.key))
                    done += 1
            await asyncio.gather(*acks)
    finally:
        elapsed = time.perf_counter() - began
        await consumer.stop()
        await producer.stop()
    return {"records": done, "seconds": elapsed, "records_per_s": done / elapsed}


if __name__ == "__main__":
    bootstrap, prefix, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    print(json.dumps(asyncio.run(run(bootstrap, TopicNames(prefix), count))))

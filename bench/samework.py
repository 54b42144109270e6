"""The same-work baseline: the worker's whole job in a plain aiokafka loop, without Faust.

Consume the raw topics a fetched batch at a time, compute each batch with the worker's own
``streams.batches.process`` (decode, normalize, merge into the states, encode), keep the states
in a dict, and produce the same records per record in as the worker (new events, one state and
one changelog-like record per changed key, cascade members), acks=all, idempotent, each fetch's
records delivered every second at most (as a commit interval would): the same deliveries the worker awaits
at its commits. No transactions, no tables on disk, no group: the ratio
of the worker to this says what the framework costs on top of the job itself.

``python -m bench.samework BOOTSTRAP PREFIX COUNT MAX_SECONDS`` prints JSON.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from bench.plainloop import clients
from schemas.topicadmin import TopicPlan, ensure_topics
from schemas.topicnames import TopicNames
from streams.batches import outputs, process
from streams.canonical import NormalizeOptions

DELIVERY_INTERVAL_S = 1.0


async def run(bootstrap: str, names: TopicNames, count: int, max_seconds: float) -> dict[str, float]:
    out = TopicNames(f"{names.prefix}samework.")
    changelog = f"{out.prefix}message-states-changelog"
    await ensure_topics(bootstrap, out, TopicPlan(8, 1), [changelog])
    consumer, producer = await clients(bootstrap, names)
    states: dict[bytes, bytes] = {}
    options = NormalizeOptions()
    done = 0
    began = delivered_at = time.perf_counter()
    acks = []
    try:
        while done < count and time.perf_counter() - began < max_seconds:
            fetched = await consumer.getmany(timeout_ms=1000, max_records=2000)
            for tp, records in fetched.items():
                result = process(records, states.get, options)
                states.update((change.key, change.table_value) for change in result.states)
                for output in outputs(result, out, changelog, tp.partition):
                    sent = await producer.send(
                        output.topic,
                        output.value,
                        key=output.key,
                        partition=output.partition,
                        headers=output.headers,
                    )
                    acks.append(sent)
                done += len(records)
            if time.perf_counter() - delivered_at >= DELIVERY_INTERVAL_S:
                await asyncio.gather(*acks)
                acks, delivered_at = [], time.perf_counter()
        await asyncio.gather(*acks)
    finally:
        elapsed = time.perf_counter() - began
        await consumer.stop()
        await producer.stop()
    return {"records": done, "seconds": elapsed, "records_per_s": done / elapsed}


if __name__ == "__main__":
    bootstrap, prefix, count, max_seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    print(json.dumps(asyncio.run(run(bootstrap, TopicNames(prefix), count, max_seconds))))

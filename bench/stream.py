"""Stream: how fast a worker drains preloaded raw callbacks into events and state (one process,
and ``--processes 2``), beside the same work in a plain aiokafka loop without Faust
(``bench.samework``) and a plain aiokafka loop without state (the client ceiling)."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.consumer import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from bench.ingest import cpu_seconds
from bench.preload import preload
from bench.services import Services, local_broker_pids, rss_peak_mb
from schemas.topicadmin import TopicPlan, ensure_topics


async def committed(bootstrap: str, group: str, topics: list[str]) -> int | None:
    """The group's committed offsets summed over ``topics``; None while Kafka cannot say (a fresh
    broker's group coordinator is not there until ``__consumer_offsets`` is created)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        await admin.start()
        offsets = await admin.list_consumer_group_offsets(group)
    except KafkaError:
        return None
    finally:
        await admin.close()
    return sum(meta.offset for tp, meta in offsets.items() if tp.topic in topics and meta.offset > 0)


async def end_offsets(bootstrap: str, topics: list[str]) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        partitions = [TopicPartition(t, p) for t in topics for p in range(8)]
        return sum((await consumer.end_offsets(partitions)).values())
    finally:
        await consumer.stop()


# Seconds of draining measured per worker, from its first commit: a steady state, every member
# busy throughout, on a backlog larger than either worker drains in that time. (Until 2026-12-04:
# 500,000 callbacks and 150 s, which both drained before the window ended, so the two-process
# figure took in the start, the moment one process ran out of its share, and the tail.)
WINDOW_S = 60.0
WINDOW_S_QUICK = 5.0
BACKLOG_CALLBACKS = 1_500_000  # about 1.95 million raw records; two processes took 1.3 million in 60 s
PLAIN_LOOP_RECORDS = 600_000  # the client ceiling's loop: about 30 s


def drain(
    services: Services, processes: int, total: int, timeout_s: float, window_s: float | None = None
) -> dict[str, Any]:
    """Start one worker of ``processes`` processes in a fresh group; the rate is measured from the
    first committed offsets to the end of the backlog, or to ``window_s`` after the first ones
    (the full run's 500,000 callbacks would take one worker most of the 20 minutes)."""
    app_id = f"bench-{uuid.uuid4().hex[:6]}"
    raw = services.topics.raw_all()
    worker = services.worker(app_id, app_id, processes=processes)[1]
    members = [worker.pid] if processes == 1 else _children(worker.pid)
    profiler = (
        services.profiler(worker.pid, "worker-profile") if services.profile and processes == 1 else None
    )
    samples: list[tuple[float, int]] = []
    brokers = local_broker_pids()
    cpu_at: dict[float, tuple[float, float]] = {}  # a sample's time: CPU seconds of the workers, the broker
    deadline = time.monotonic() + timeout_s
    first: float | None = None
    try:
        while time.monotonic() < deadline:
            done = asyncio.run(committed(services.bootstrap, app_id, raw))
            if done is None:
                time.sleep(0.5)
                continue
            now = time.monotonic()
            samples.append((now, done))
            cpu_at[now] = (cpu_seconds(members), cpu_seconds(brokers))
            if done > 0 and first is None:
                first = now
            if done >= total or (window_s is not None and first is not None and now - first >= window_s):
                break
            time.sleep(0.5)
        rss = [rss_peak_mb(pid) for pid in members]
    finally:
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)  # py-spy writes its file and exits
            profiler.wait(timeout=60)
        services.stop(worker)
    if not samples:
        return {"processes": processes, "finished": False, "committed": 0, "total": total}
    moving = _commits(samples)
    drained = samples[-1][1] >= total
    if len(moving) < 2 or not (drained or window_s is not None and samples[-1][0] - moving[0][0] >= window_s):
        why = (
            "the backlog was committed in one commit" if len(moving) < 2 and drained else "the window ran out"
        )
        return {
            "processes": processes,
            "finished": False,
            "committed": samples[-1][1],
            "total": total,
            "why": why,
        }
    (t0, c0), (t1, c1) = moving[0], moving[-1]
    (worker0, broker0), (worker1, broker1) = cpu_at[t0], cpu_at[t1]
    return {
        "processes": processes,
        "finished": True,
        "drained_all": drained,
        "records": c1 - c0,
        "seconds": t1 - t0,
        "records_per_s": (c1 - c0) / (t1 - t0),
        "peak_rss_mb": rss,
        # cores used while measured (user + system, all threads): the worker's processes, the local broker
        "worker_cores": (worker1 - worker0) / (t1 - t0),
        "broker_cores": (broker1 - broker0) / (t1 - t0) if brokers else None,
    }


def _commits(samples: list[tuple[float, int]]) -> list[tuple[float, int]]:
    """Each committed total with the time it was first seen: the rate runs from commit to commit
    (a commit every 2.8 s), not to a poll that saw nothing new."""
    seen: list[tuple[float, int]] = []
    for at, done in samples:
        if done > 0 and (not seen or done != seen[-1][1]):
            seen.append((at, done))
    return seen


def run(services: Services, quick: bool) -> dict[str, Any]:
    # quick: more than one process drains between two commits (2.8 s apart) at ~14,000 records/s
    count = 150_000 if quick else BACKLOG_CALLBACKS
    names = services.topics
    asyncio.run(ensure_topics(services.bootstrap, names, TopicPlan(8, 1)))
    began = time.monotonic()
    sent = asyncio.run(preload(services.bootstrap, names, count))
    preload_s = time.monotonic() - began
    total = asyncio.run(end_offsets(services.bootstrap, names.raw_all()))
    window = WINDOW_S_QUICK if quick else WINDOW_S
    timeout = 120 + window
    one = drain(services, 1, total, timeout, window)
    two = drain(services, 2, total, timeout, window)
    same_work = _loop(services, "bench.samework", str(total), str(window + 10))
    plain = _loop(services, "bench.plainloop", str(min(total, PLAIN_LOOP_RECORDS)))
    result: dict[str, Any] = {
        "raw_records": sent,
        "preload_seconds": preload_s,
        "one_worker": one,
        "two_processes": two,
        "same_work_loop": same_work,
        "plain_aiokafka_loop": plain,
    }
    if one.get("finished") and two.get("finished"):
        result["ratio_one_worker_vs_same_work"] = one["records_per_s"] / same_work["records_per_s"]
        result["ratio_one_worker_vs_plain"] = one["records_per_s"] / plain["records_per_s"]
        result["scaling_two_processes_vs_one"] = two["records_per_s"] / one["records_per_s"]
    return result


def _loop(services: Services, module: str, *args: str) -> dict[str, Any]:
    """A baseline loop's JSON line (it reads the run's raw topics from the start, without a group)."""
    found = subprocess.run(
        [sys.executable, "-m", module, services.bootstrap, services.prefix, *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(found.stdout.strip().splitlines()[-1]))


def _children(pid: int, wait_s: float = 30) -> list[int]:
    """The worker processes a ``--processes`` worker started (for their memory)."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        children = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        if children:
            return children
        time.sleep(0.2)
    return [pid]

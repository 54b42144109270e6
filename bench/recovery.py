"""Recovery and replay: a fresh worker (empty data dir) restoring its message-state table from
a changelog of 100k and of 1M states, and the peak RSS of the worker holding them; beside
a plain aiokafka read of the same changelog (the client ceiling) and a worker starting
with empty tables. Then the rate of ``cbsp replay`` over a time range of raw callbacks,
beside the plain aiokafka loop over the same records.

The changelogs are written directly (``bench.changelog``), on app ids of their own, and
the workers read raw topics of their own, empty, so they hold exactly the written states.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from bench import changelog, report
from bench.preload import preload
from bench.services import Services, delete_topics, rss_peak_mb, wait_views
from schemas.topicadmin import TopicPlan, ensure_topics
from schemas.topicnames import TABLES, TopicNames
from schemas.topicnames import changelog as changelog_topic

PARTITIONS = 8
SIZES_FULL = (100_000, 1_000_000)
SIZES_QUICK = (5_000,)
REPLAY_FULL = 100_000
REPLAY_QUICK = 5_000
SAMPLE = 200  # keys per size whose view must answer the written state


def get(url: str) -> tuple[int, Any]:
    """(status, JSON body) of a GET, (0, None) when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310  (loopback)
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, None
    except (OSError, ValueError):
        return 0, None


def view_path(key: bytes) -> str:
    provider, _, message_id = key.decode().partition(":")
    return f"/messages/{provider}/{urllib.parse.quote(message_id, safe='')}"


def wait_until(check: Any, timeout_s: float, what: str) -> float:
    """Poll ``check()`` until it is true; returns the monotonic time it first was."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return time.monotonic()
        time.sleep(0.1)
    raise RuntimeError(f"{what}: not within {timeout_s:.0f}s")


def recover(
    services: Services, app_id: str, prefix: str, count: int, sample: list[changelog.Sampled]
) -> dict[str, Any]:
    """Start a fresh worker on ``app_id``; time until its views answer (no more 503) and until
    every sampled key answers its written state; its peak RSS once it holds the table."""
    began = time.monotonic()
    url, process = services.worker(f"recover-{app_id}", app_id, CBSP_TOPIC_PREFIX=prefix)
    try:
        serving = time.monotonic()
        timeout = 120 + count / 2000
        ready = wait_views(url, timeout)
        pending = [(key, changelog.rendered(value)) for _, key, value in sample]

        def sample_answers() -> bool:
            pending[:] = [(k, want) for k, want in pending if get(url + view_path(k)) != (200, want)]
            return not pending

        answered = wait_until(sample_answers, timeout, f"{app_id}: {len(pending)} sampled keys")
        return {
            "states": count,
            "seconds_to_http": serving - began,
            "seconds_to_views": ready - began,
            "seconds_to_sample": answered - began,
            "sampled_keys": len(sample),
            "peak_rss_mb": rss_peak_mb(process.pid),
            "rss_mb_holding_them": rss_peak_mb(process.pid, "VmRSS"),
        }
    finally:
        services.stop(process)


async def plain_read(bootstrap: str, topic: str) -> dict[str, Any]:
    """Read the whole changelog with a plain aiokafka consumer, nothing done with the records."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, max_partition_fetch_bytes=4 * 1048576
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        ends = await consumer.end_offsets(partitions)
        read = 0
        began = time.perf_counter()
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        while read < sum(ends.values()):  # (a changelog written directly has no markers)
            batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            read += sum(len(records) for records in batches.values())
        elapsed = time.perf_counter() - began
    finally:
        await consumer.stop()
    return {"records": read, "seconds": elapsed, "records_per_s": read / elapsed if elapsed else 0.0}


def rfc3339(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def replay(services: Services, count: int) -> dict[str, Any]:
    """``cbsp replay --since --until`` over a time range holding ``count`` raw callbacks."""
    prefix = f"{services.prefix}replay."
    names = TopicNames(prefix)
    asyncio.run(ensure_topics(services.bootstrap, names, TopicPlan(PARTITIONS, 1)))
    since = datetime.now(UTC) - timedelta(seconds=1)
    sent = asyncio.run(preload(services.bootstrap, names, count))
    until = datetime.now(UTC) + timedelta(seconds=1)
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "cbsp", "replay", "--since", rfc3339(since), "--until", rfc3339(until)]
        + ["--no-progress"],
        env=services.env(CBSP_TOPIC_PREFIX=prefix),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    wall = time.monotonic() - began
    line = [text for text in done.splitlines() if text.startswith("replay done:")][-1]
    read, seconds, rate = replay_numbers(line)
    plain = json.loads(
        subprocess.run(
            [sys.executable, "-m", "bench.plainloop", services.bootstrap, prefix, str(sent)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    return {
        "raw_records": sent,
        "records_read": read,
        "seconds": seconds,
        "records_per_s": rate,
        "wall_seconds_with_start": wall,
        "line": line,
        "plain_aiokafka_loop": plain,
        "ratio_vs_plain": rate / plain["records_per_s"],
    }


def restored(log: Path) -> tuple[int, float] | None:
    """(records, seconds) of the restores a worker's log reports (``streams.faustpatches.restore``: one
    line per bulk restore), None if it reports none."""
    found = RESTORED.findall(log.read_text(errors="replace")) if log.exists() else []
    if not found:
        return None
    return sum(int(records) for records, _ in found), sum(float(seconds) for _, seconds in found)


RESTORED = re.compile(r"tables restored from the changelogs records=(\d+) partitions=\d+ seconds=([\d.]+)")


def restore_rate(
    logged: tuple[int, float] | None, states: int, beyond_empty_s: float
) -> tuple[float | None, str]:
    """(records/s, note) of the restore of ``states`` by a worker whose log reports
    ``logged`` (``restored``): records over the restore's own seconds. A worker that logs no
    restore (``CBSP_WORKER_BULK_RESTORE=false``): the states over its time to views beyond an
    empty worker's, ``beyond_empty_s``. None, with the note saying why, when the run gives
    no rate to report."""
    if logged is None:
        if beyond_empty_s > 0:
            return states / beyond_empty_s, "from start times: the worker logged no restore"
        return None, (
            f"{report.NOT_MEASURED}: the worker logged no restore, and its views answered "
            f"{-beyond_empty_s:.1f} s before those of a worker with empty tables"
        )
    records, seconds = logged
    if records == 0 or seconds <= 0:
        logged_text = f"the worker logged {records:,} records restored in {seconds:.3f} s"
        return None, f"{report.NOT_MEASURED}: {logged_text}"
    rate = records / seconds
    if records < states:
        return rate, f"bulk restore of {records:,} of {states:,} records, Faust's loop read the rest"
    return rate, ""


def replay_numbers(line: str) -> tuple[int, float, float]:
    """(records read, seconds, records/s) of the summary line ``cbsp replay`` prints."""
    found = re.search(r"(\d+) records read.*\(([\d.]+)s, ([\d.]+) records/s\)", line)
    if found is None:
        raise ValueError(f"not a replay summary: {line!r}")
    return int(found[1]), float(found[2]), float(found[3])


def run(services: Services, quick: bool) -> dict[str, Any]:
    sizes = SIZES_QUICK if quick else SIZES_FULL
    run_id = uuid.uuid4().hex[:6]
    apps = {size: f"bench-recovery-{size}-{run_id}" for size in sizes}
    empty_app = f"bench-recovery-0-{run_id}"
    prefix = f"{services.prefix}recovery."  # raw topics no worker of this stage finds anything in
    changelogs = [changelog_topic(app, table) for app in [*apps.values(), empty_app] for table in TABLES]
    topics = {changelog_topic(app, TABLES[0]): size for size, app in apps.items()}
    asyncio.run(ensure_topics(services.bootstrap, TopicNames(prefix), TopicPlan(PARTITIONS, 1), changelogs))
    try:
        began = time.monotonic()
        sample = asyncio.run(
            changelog.write(services.bootstrap, topics, PARTITIONS, sample_every=max(sizes) // SAMPLE)
        )
        result: dict[str, Any] = {
            "write_seconds": time.monotonic() - began,
            "empty_tables": recover(services, empty_app, prefix, 0, []),
            "sizes": {},
        }
        for size, app in apps.items():
            topic = changelog_topic(app, TABLES[0])
            shot = recover(services, app, prefix, size, [s for s in sample if s[0] < size])
            shot["plain_read"] = asyncio.run(plain_read(services.bootstrap, topic))
            logged = restored(services.workdir / f"recover-{app}.log")
            if logged is not None:
                shot["restored_records"], shot["restore_seconds"] = logged
            beyond_empty = shot["seconds_to_views"] - result["empty_tables"]["seconds_to_views"]
            shot["restore_records_per_s"], note = restore_rate(logged, size, beyond_empty)
            if note:
                shot["restore_note"] = note
            shot["ratio_restore_vs_plain_read"] = (
                shot["restore_records_per_s"] / shot["plain_read"]["records_per_s"]
                if shot["restore_records_per_s"]
                else None
            )
            result["sizes"][str(size)] = shot
    finally:
        asyncio.run(
            delete_topics(services.bootstrap, set(changelogs).__contains__)
        )  # a GB of the shared broker's disk
    result["replay"] = replay(services, REPLAY_QUICK if quick else REPLAY_FULL)
    largest = result["sizes"][str(max(sizes))]
    result["largest"] = max(sizes)
    result["ratio_rss_largest_vs_empty"] = largest["peak_rss_mb"] / result["empty_tables"]["peak_rss_mb"]
    return result

"""`python -m bench.stress [--runs N] [--backlog N]` (`make stress-two-workers`): two workers
started one right after the other on a backlog, again and again, to show whether the two-worker
stall (CHANGELOG, "Known issues") still happens.

Each run is a fresh consumer group (so a fresh assignment and a rebalance as the second worker
joins) of two ``cbsp worker --processes 1`` started together on the same preloaded raw topics.
A run passes when the group commits the whole backlog; it is a **stall** when the group's
committed offsets stand still for ``--stall-s`` seconds short of the end (the signature seen
before the batch path: one worker read its partitions to the end, processed part of them, and
idled). The stalled workers get SIGUSR1 first (Faust's dump of its tasks, into their logs).
Prints one line per run and the counts, and saves them in bench-results/stress-<stamp>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.preload import preload
from bench.services import Services, delete_topics, local_broker
from bench.stream import committed, end_offsets
from schemas.topicadmin import TopicPlan, ensure_topics


def start_two(services: Services, app_id: str) -> list[Any]:
    """Two workers of one group, the second started right after the first (no wait between)."""
    return [services.worker(f"{app_id}-w{n}", app_id, wait=False)[1] for n in (1, 2)]


def one_run(services: Services, total: int, deadline_s: float, stall_s: float) -> dict[str, Any]:
    app_id = f"stress-{uuid.uuid4().hex[:6]}"
    raw = services.topics.raw_all()
    began = time.monotonic()
    workers = start_two(services, app_id)
    done, moved_at, outcome = 0, began, "timeout"
    try:
        while time.monotonic() - began < deadline_s:
            time.sleep(0.5)
            if any(worker.poll() is not None for worker in workers):
                outcome = "worker exited"
                break
            now_done = asyncio.run(committed(services.bootstrap, app_id, raw)) or 0
            if now_done != done:
                done, moved_at = now_done, time.monotonic()
            if done >= total:
                outcome = "drained"
                break
            if done > 0 and time.monotonic() - moved_at >= stall_s:
                outcome = "stall"
                for worker in workers:
                    worker.send_signal(signal.SIGUSR1)  # Faust dumps its tasks into the log
                time.sleep(1)
                break
    finally:
        for worker in workers:
            services.stop(worker)
        asyncio.run(delete_topics(services.bootstrap, lambda topic: topic.startswith(f"{app_id}-")))
    return {
        "app_id": app_id,
        "outcome": outcome,
        "committed": done,
        "total": total,
        "seconds": round(time.monotonic() - began, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stress", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="two-worker starts (default 20)")
    parser.add_argument(
        "--backlog", type=int, default=60_000, help="callbacks preloaded once (default 60,000)"
    )
    parser.add_argument(
        "--stall-s", type=float, default=45.0, help="no commit for this long short of the end is a stall"
    )
    parser.add_argument("--deadline-s", type=float, default=240.0, help="the longest a run may take")
    parser.add_argument("--out", type=Path, default=Path("bench-results"))
    args = parser.parse_args()
    bootstrap, started = local_broker()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    services = Services(bootstrap, args.out / f"stress-{stamp}")
    runs: list[dict[str, Any]] = []
    try:
        asyncio.run(ensure_topics(bootstrap, services.topics, TopicPlan(8, 1)))
        asyncio.run(preload(bootstrap, services.topics, args.backlog))
        total = asyncio.run(end_offsets(bootstrap, services.topics.raw_all()))
        for n in range(1, args.runs + 1):
            run = one_run(services, total, args.deadline_s, args.stall_s)
            runs.append(run)
            print(f"run {n}/{args.runs}: {json.dumps(run)}", flush=True)
    finally:
        services.stop()
        services.delete_topics()
        if started is not None:
            started.stop()
    counts = {
        outcome: sum(run["outcome"] == outcome for run in runs) for outcome in {r["outcome"] for r in runs}
    }
    summary = {
        "started_at": stamp,
        "runs": len(runs),
        "backlog": args.backlog,
        "outcomes": counts,
        "each": runs,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    saved = args.out / f"stress-{stamp}.json"
    saved.write_text(json.dumps(summary, indent=2))
    print(f"{len(runs)} two-worker starts: {counts}; logs in {services.workdir}; saved {saved}")
    return 0 if counts.get("drained", 0) == len(runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""`python -m bench [--quick] [--only STAGE ...]`: run the benchmarks, print and save the numbers."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import e2e, ingest, overload, recovery, report, stream
from bench.services import Services, local_broker
from cbsp.localkafka import KAFKA_VERSION

STAGES = {
    "ingest": ingest.run,
    "overload": overload.run,
    "stream": stream.run,
    "e2e": e2e.run,
    "recovery": recovery.run,
}


def machine() -> dict[str, Any]:
    meminfo = Path("/proc/meminfo").read_text().splitlines()[0].split()
    models = [line.split(":", 1)[1].strip() for line in cpuinfo() if line.startswith("model name")]
    commit = subprocess.run(
        ["git", "describe", "--always", "--dirty"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "cpus": len(os.sched_getaffinity(0)),
        "cpu_model": models[0] if models else platform.processor() or "?",
        "memory_gib": round(int(meminfo[1]) / 2**20, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "kafka": KAFKA_VERSION,
        "commit": commit or "?",
    }


def cpuinfo() -> list[str]:
    path = Path("/proc/cpuinfo")
    return path.read_text().splitlines() if path.exists() else []


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="a 2-minute smoke run with small numbers")
    parser.add_argument("--only", action="append", choices=sorted(STAGES), help="run only these stages")
    parser.add_argument("--out", type=Path, default=Path("bench-results"))
    parser.add_argument(
        "--profile",
        action="store_true",
        help="record the stream stage's one-worker drain with py-spy (worker-profile.txt in the run dir)",
    )
    parser.add_argument("--note", default="", help="a remark saved with the results (e.g. what else ran)")
    args = parser.parse_args()
    bootstrap, started = local_broker()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    services = Services(bootstrap, args.out / f"run-{stamp}", profile=args.profile)
    stages = args.only or list(STAGES)
    results: dict[str, Any] = {
        "started_at": stamp,
        "quick": args.quick,
        "stages": stages,
        "note": args.note,
        "machine": machine(),
    }
    try:
        for name in stages:
            began = time.monotonic()
            results[name] = STAGES[name](services, args.quick)
            results[name]["stage_seconds"] = round(time.monotonic() - began, 1)
            print(json.dumps({name: results[name]}, indent=2), flush=True)
    finally:
        services.stop()
        deleted = services.delete_topics()
        print(f"deleted the run's {len(deleted)} topics", flush=True)
        if started is not None:
            started.stop()
    results["figures"] = [figure.as_json() for figure in report.figures(results)]
    args.out.mkdir(parents=True, exist_ok=True)
    for path in (args.out / f"results-{stamp}.json", args.out / "latest.json"):
        path.write_text(json.dumps(results, indent=2))
    print("\n".join(report.lines(results)))
    for path in report.plots(results, args.out):
        print(f"plot: {path}")
    print(f"saved {args.out / 'latest.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

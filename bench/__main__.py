"""`python -m bench [--quick] [--only STAGE ...]`: run the benchmarks, print and save the numbers."""

from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import e2e, ingest, report, stream
from bench.services import Services, local_broker

STAGES = {"ingest": ingest.run, "stream": stream.run, "e2e": e2e.run}


def machine() -> dict[str, Any]:
    meminfo = Path("/proc/meminfo").read_text().splitlines()[0].split()
    return {
        "cpus": len(__import__("os").sched_getaffinity(0)),
        "memory_gib": round(int(meminfo[1]) / 2**20, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="a 2-minute smoke run with small numbers")
    parser.add_argument("--only", action="append", choices=sorted(STAGES), help="run only these stages")
    parser.add_argument("--out", type=Path, default=Path("bench-results"))
    args = parser.parse_args()
    bootstrap, started = local_broker()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    services = Services(bootstrap, args.out / f"run-{stamp}")
    results: dict[str, Any] = {"started_at": stamp, "quick": args.quick, "machine": machine()}
    try:
        for name in args.only or list(STAGES):
            began = time.monotonic()
            results[name] = STAGES[name](services, args.quick)
            results[name]["stage_seconds"] = round(time.monotonic() - began, 1)
            print(json.dumps({name: results[name]}, indent=2), flush=True)
    finally:
        services.stop()
        if started is not None:
            started.stop()
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

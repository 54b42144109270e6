"""Ingest: the gateway at saturation and at fixed rates, beside the no-op endpoint on the same
server configuration (the HTTP ceiling) and Kafka's ProducerPerformance (the broker ceiling).

`python -m bench.ingest [--rounds N] [--duration S] [--rate R ...] [--env NAME=VALUE ...]
[--versus NAME=VALUE ...]` is the quick way to compare gateway changes on a shared machine:
gateway and no-op endpoint alternate, N times over (with ``--versus``, a second gateway
configuration is measured after the first in each round), no ProducerPerformance, and each
gateway figure is given as a ratio to the no-op endpoint of its own round.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.services import Services, local_broker, local_broker_pids, rss_peak_mb
from cbsp.localkafka import LocalKafka

RATES_FULL = (200, 500, 1000, 2000)
RATES_QUICK = (200, 500)
# Before the first server is measured, the gateway is run at saturation this long, unmeasured: a
# broker just started (as `make bench` starts it from a fresh clone) spends 0.7 to 1.2 ms of CPU a
# request until its JIT has compiled the produce path, 0.2 to 0.35 ms after (docs/benchmarks.md)
BROKER_WARM_UP_S = 30


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU the processes used so far (all their threads), in seconds."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def _children_cpu_seconds() -> float:
    """CPU used so far by this process's waited-for children (the load generators)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure_server(
    services: Services,
    module: str,
    quick: bool,
    start: int,
    rates: tuple[int, ...] | None = None,
    duration_s: float | None = None,
    env: dict[str, str] | None = None,
    warm_up_s: float | None = None,
) -> dict[str, Any]:
    duration = str(duration_s if duration_s is not None else 2 if quick else 15)
    rates = rates if rates is not None else RATES_QUICK if quick else RATES_FULL
    url, process = services.gateway(module, **(env or {}))
    try:
        warm_up = warm_up_s if warm_up_s is not None else 1 if quick else 2
        services.loadgen(url, "--mode", "saturate", "--duration", str(warm_up), "--start", str(start))
        servers = children(process.pid)
        brokers = local_broker_pids()
        cpu_before, broker_before = cpu_seconds(servers), cpu_seconds(brokers)
        loadgen_before = _children_cpu_seconds()
        saturation = services.loadgen(
            url,
            "--mode",
            "saturate",
            "--duration",
            duration,
            "--connections",
            "32",
            "--start",
            str(start + 1_000_000),
        )
        answered = sum(saturation["statuses"].values()) or 1
        # the load generator's CPU per answered request (it shares the machine's cores too)
        loadgen_s = _children_cpu_seconds() - loadgen_before
        saturation["loadgen_cpu_ms_per_request"] = loadgen_s * 1000 / answered
        # the server processes' CPU per answered request at saturation (all threads, user + system)
        saturation["cpu_ms_per_request"] = (cpu_seconds(servers) - cpu_before) * 1000 / answered
        if brokers:  # the broker's CPU per answered request (None: not the local broker)
            saturation["broker_cpu_ms_per_request"] = (cpu_seconds(brokers) - broker_before) * 1000 / answered
        result: dict[str, Any] = {"saturation": saturation, "rates": {}, "warm_up_s": warm_up}
        for n, rate in enumerate(rates):
            result["rates"][str(rate)] = services.loadgen(
                url,
                "--mode",
                "rate",
                "--rate",
                str(rate),
                "--duration",
                duration,
                "--connections",
                "64",
                "--start",
                str(start + 2_000_000 + n * 100_000),
            )
        result["peak_rss_mb_per_process"] = max(
            (rss_peak_mb(pid) for pid in children(process.pid)), default=0.0
        )
        result["peak_rss_mb_master"] = rss_peak_mb(process.pid)
        return result
    finally:
        services.stop(process)


def producer_performance(bootstrap: str, topic: str, records: int, record_size: int) -> dict[str, Any]:
    """Kafka's own producer at acks=all with the same record size: what the broker can take."""
    libs = LocalKafka.from_env().resolve_jars()
    command = [
        "java",
        "-Xmx512m",
        "-cp",
        f"{libs}/*",
        "org.apache.kafka.tools.ProducerPerformance",
        "--topic",
        topic,
        "--num-records",
        str(records),
        "--record-size",
        str(record_size),
        "--throughput",
        "-1",
        "--producer-props",
        f"bootstrap.servers={bootstrap}",
        "acks=all",
        "enable.idempotence=true",
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    last = [line for line in output.splitlines() if "records sent" in line][-1]
    numbers = re.findall(r"([\d.]+) (records/sec|ms avg latency|ms 99th)", last)
    found = {unit: float(value) for value, unit in numbers}
    return {
        "records_per_s": found["records/sec"],
        "avg_latency_ms": found.get("ms avg latency"),
        "p99_ms": found.get("ms 99th"),
        "record_size": record_size,
        "records": records,
        "line": last,
    }


def run(services: Services, quick: bool) -> dict[str, Any]:
    gateway = measure_server(services, "cbsp", quick, start=0, warm_up_s=None if quick else BROKER_WARM_UP_S)
    noop = measure_server(services, "bench.noop", quick, start=10_000_000)
    baseline = producer_performance(
        services.bootstrap,
        services.topics.raw("revicom") + ".perf",
        20_000 if quick else 300_000,
        record_size=260,
    )
    ratio_http = gateway["saturation"]["requests_per_s"] / noop["saturation"]["requests_per_s"]
    ratio_kafka = gateway["saturation"]["callbacks_per_s"] / baseline["records_per_s"]
    return {
        "gateway": gateway,
        "noop": noop,
        "producer_performance": baseline,
        "ratio_requests_vs_noop": ratio_http,
        "ratio_callbacks_vs_producer_performance": ratio_kafka,
    }


def alternate(
    services: Services,
    rounds: int,
    duration_s: float,
    rates: tuple[int, ...],
    configurations: list[dict[str, str]],
) -> list[dict[str, Any]]:
    """Each round: every gateway configuration, then the no-op endpoint; figures and ratios."""
    results = []
    start = 50_000_000
    for n in range(rounds):
        measured: dict[str, Any] = {}
        for c, env in enumerate(configurations):
            start += 10_000_000
            warm_up = BROKER_WARM_UP_S if n == 0 and c == 0 else None
            measured[f"gateway{c}"] = measure_server(
                services, "cbsp", False, start, rates, duration_s, env, warm_up_s=warm_up
            )
        start += 10_000_000
        noop = measure_server(services, "bench.noop", False, start, rates, duration_s)
        row: dict[str, Any] = {"round": n + 1, "noop": _brief(noop)}
        for name, gateway in measured.items():
            brief = _brief(gateway)
            brief["ratio_vs_noop"] = round(
                gateway["saturation"]["requests_per_s"] / noop["saturation"]["requests_per_s"], 3
            )
            row[name] = brief
        print(json.dumps(row), flush=True)
        results.append(row)
    return results


def _brief(result: dict[str, Any]) -> dict[str, Any]:
    saturation = result["saturation"]
    brief: dict[str, Any] = {
        "requests_per_s": round(saturation["requests_per_s"], 1),
        "non_200": {k: v for k, v in saturation["statuses"].items() if k != "200"},
        "cpu_ms_per_request": round(saturation["cpu_ms_per_request"], 3),
        "broker_cpu_ms_per_request": round(saturation.get("broker_cpu_ms_per_request") or 0, 3),
        "loadgen_cpu_ms_per_request": round(saturation["loadgen_cpu_ms_per_request"], 3),
        "rss_mb": round(result["peak_rss_mb_per_process"], 1),
    }
    for rate, figures in result["rates"].items():
        brief[f"at_{rate}"] = {
            p: round(figures[p], 2) if figures[p] is not None else None for p in ("p50_ms", "p99_ms")
        }
        brief[f"at_{rate}"]["non_200"] = {k: v for k, v in figures["statuses"].items() if k != "200"}
    return brief


def _env(pairs: list[str]) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in pairs)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per saturation / rate shot")
    parser.add_argument("--rate", type=int, action="append", help="fixed rates (default: 500)")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the gateway")
    parser.add_argument("--versus", action="append", default=[], help="NAME=VALUE: a second gateway")
    parser.add_argument("--out", type=Path, default=Path("bench-results"))
    args = parser.parse_args()
    configurations = [_env(args.env)]
    if args.versus:
        configurations.append({**_env(args.env), **_env(args.versus)})
    bootstrap, started = local_broker()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    services = Services(bootstrap, args.out / f"ingest-{stamp}")
    try:
        alternate(services, args.rounds, args.duration, tuple(args.rate or (500,)), configurations)
    finally:
        services.stop()
        services.delete_topics()
        if started is not None:
            started.stop()
    print(f"configurations: {configurations}; logs in {services.workdir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Ingest: the gateway at saturation and at fixed rates, beside the no-op endpoint on the same
server configuration (the HTTP ceiling) and Kafka's ProducerPerformance (the broker ceiling)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

from bench.services import Services, rss_peak_mb
from cbsp.localkafka import LocalKafka

RATES_FULL = (200, 500, 1000, 2000)
RATES_QUICK = (200, 500)


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def measure_server(services: Services, module: str, quick: bool, start: int) -> dict[str, Any]:
    duration = "2" if quick else "15"
    url, process = services.gateway(module)
    try:
        warm_up = "1" if quick else "2"
        services.loadgen(url, "--mode", "saturate", "--duration", warm_up, "--start", str(start))
        result: dict[str, Any] = {
            "saturation": services.loadgen(
                url,
                "--mode",
                "saturate",
                "--duration",
                duration,
                "--connections",
                "32",
                "--start",
                str(start + 1_000_000),
            ),
            "rates": {},
        }
        for n, rate in enumerate(RATES_QUICK if quick else RATES_FULL):
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
    gateway = measure_server(services, "cbsp", quick, start=0)
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

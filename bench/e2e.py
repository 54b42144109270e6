"""End to end: under a steady background load, the time from a callback's 200 to its state
being visible in the table view (p50/p95/p99), measured by probes."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from typing import Any

from bench.services import Services


def run(services: Services, quick: bool) -> dict[str, Any]:
    rate = 500
    duration = 10 if quick else 30
    worker_url, worker = services.worker("e2e-worker", f"bench-e2e-{uuid.uuid4().hex[:6]}")
    gateway_url, gateway = services.gateway("cbsp")
    try:
        background = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.loadgen",
                "--url",
                gateway_url,
                "--mode",
                "rate",
                "--rate",
                str(rate),
                "--duration",
                str(duration + 4),
                "--connections",
                "64",
                "--start",
                "50000000",
            ],
            env=services.env(),
            stdout=subprocess.PIPE,
            text=True,
        )
        probes = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.probe",
                "--gateway",
                gateway_url,
                "--worker",
                worker_url,
                "--count",
                str(duration * 20),
                "--rate",
                "20",
            ],
            env=services.env(),
            capture_output=True,
            text=True,
            check=True,
        )
        load_out, _ = background.communicate(timeout=duration + 120)
        return {
            "background_rate": rate,
            "background": json.loads(load_out.strip().splitlines()[-1]),
            "visible_after_200": json.loads(probes.stdout.strip().splitlines()[-1]),
        }
    finally:
        services.stop(gateway)
        services.stop(worker)

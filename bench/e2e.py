"""End to end: under a steady background load, the time from a callback's 200 to its state
being visible in the table view (p50/p95/p99), measured by probes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from typing import Any

from bench.payloads import MIX
from bench.services import Services, wait_views

CALLBACKS_PER_S = 500  # the steady rate, probes included
PROBES_PER_S = 20
WARM_UP_S = 5  # background load before the first probe: the worker's first transactions and the
# broker's first requests on new topics are a start-up transient, not the steady state measured


def request_rate(callbacks_per_s: float, probes_per_s: float) -> float:
    """Background requests/s that, with the probes (one callback each), make ``callbacks_per_s``:
    a request of the mix carries more than one callback on average (batches, bundles)."""
    per_request = sum(make(n).callbacks for n, make in enumerate(MIX)) / len(MIX)
    return (callbacks_per_s - probes_per_s) / per_request


def run(services: Services, quick: bool) -> dict[str, Any]:
    rate = request_rate(CALLBACKS_PER_S, PROBES_PER_S)
    duration = 4 if quick else 30
    warm_up = 1 if quick else WARM_UP_S
    # raw topics of its own: the callbacks of the other stages are no backlog in front of the probes
    own = {"CBSP_TOPIC_PREFIX": f"{services.prefix}e2e."}
    worker_url, worker = services.worker("e2e-worker", f"bench-e2e-{uuid.uuid4().hex[:6]}", **own)
    gateway_url, gateway = services.gateway("cbsp", **own)
    try:
        wait_views(worker_url, timeout_s=120)
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
                str(warm_up + duration + 4),
                "--connections",
                "64",
                "--start",
                "50000000",
            ],
            env=services.env(),
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(warm_up)
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
                str(duration * PROBES_PER_S),
                "--rate",
                str(PROBES_PER_S),
            ],
            env=services.env(),
            capture_output=True,
            text=True,
            check=True,
        )
        load_out, _ = background.communicate(timeout=duration + 120)
        return {
            "callbacks_per_s": CALLBACKS_PER_S,
            "background_rate": rate,
            "warm_up_s": warm_up,
            "background": json.loads(load_out.strip().splitlines()[-1]),
            "visible_after_200": json.loads(probes.stdout.strip().splitlines()[-1]),
        }
    finally:
        services.stop(gateway)
        services.stop(worker)

"""Load generator (its own process): closed loop at saturation, or open loop at a fixed rate.

`python -m bench.loadgen --url URL --mode saturate|rate [--rate R] --duration S --connections C`
prints one JSON object. Latency in open-loop mode is measured from the scheduled send
time, so a slow server cannot hide its queueing (no coordinated omission).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import time
from typing import Any

import aiohttp

from bench.payloads import Request, requests


def auth_headers() -> dict[str, dict[str, str]]:
    basic = os.environ.get("CBSP_REVICOM_BASIC_AUTH", "")
    headers = {
        p: {"X-Callback-Token": os.environ.get(f"CBSP_{p.upper()}_TOKEN", "")}
        for p in ("recessmobile", "fortytwo", "edna")
    }
    headers["revicom"] = {"Authorization": "Basic " + base64.b64encode(basic.encode()).decode()}
    return headers


class Shot:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.auth = auth_headers()
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.callbacks = 0
        self.errors = 0

    async def send(self, session: aiohttp.ClientSession, request: Request, scheduled: float) -> None:
        headers = {"Content-Type": request.content_type, **self.auth[request.provider]}
        try:
            async with session.post(
                f"{self.base_url}/v1/callbacks/{request.provider}", data=request.body, headers=headers
            ) as response:
                await response.read()
                status = response.status
        except (TimeoutError, aiohttp.ClientError):
            self.errors += 1
            return
        self.latencies.append(time.perf_counter() - scheduled)
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if status == 200:
            self.callbacks += request.callbacks


async def saturate(shot: Shot, duration: float, connections: int, start: int) -> float:
    source = requests(start)
    deadline = time.perf_counter() + duration

    async def loop(session: aiohttp.ClientSession) -> None:
        while time.perf_counter() < deadline:
            await shot.send(session, next(source), time.perf_counter())

    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        began = time.perf_counter()
        await asyncio.gather(*(loop(session) for _ in range(connections)))
        return time.perf_counter() - began


async def fixed_rate(shot: Shot, duration: float, rate: float, connections: int, start: int) -> float:
    source = requests(start)
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        began = time.perf_counter()
        tasks = []
        for n in range(int(duration * rate)):
            scheduled = began + n / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(shot.send(session, next(source), scheduled)))
        await asyncio.gather(*tasks)
        return time.perf_counter() - began


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def summary(shot: Shot, elapsed: float) -> dict[str, Any]:
    ok = shot.statuses.get(200, 0)
    return {
        "elapsed_s": elapsed,
        "requests_ok": ok,
        "requests_per_s": ok / elapsed,
        "callbacks_per_s": shot.callbacks / elapsed,
        "statuses": shot.statuses,
        "errors": shot.errors,
        **{
            f"p{p}_ms": (v * 1000 if (v := percentile(shot.latencies, p)) is not None else None)
            for p in (50, 95, 99)
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--mode", choices=("saturate", "rate"), required=True)
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--start", type=int, default=0, help="first message number (unique ids per run)")
    args = parser.parse_args()
    shot = Shot(args.url)
    if args.mode == "saturate":
        elapsed = asyncio.run(saturate(shot, args.duration, args.connections, args.start))
    else:
        elapsed = asyncio.run(fixed_rate(shot, args.duration, args.rate, args.connections, args.start))
    print(json.dumps(summary(shot, elapsed)))


if __name__ == "__main__":
    main()

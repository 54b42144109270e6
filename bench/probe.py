"""End-to-end probe (its own process): POST one callback, then poll the table view until the
state shows it; the time from the gateway's 200 to a visible state, for many probes.

`python -m bench.probe --gateway URL --worker URL --count N --rate R` prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import time
import uuid
from typing import Any

import aiohttp

from bench.loadgen import percentile


async def probe(session: aiohttp.ClientSession, gateway: str, worker: str, timeout_s: float) -> float | None:
    message_uuid = f"probe-{uuid.uuid4()}"
    body = [
        {
            "message_uuid": message_uuid,
            "channel_type": "SMS",
            "callback_event": "delivered",
            "status": "delivered",
            "status_time": "2026-11-26T10:00:00Z",
        }
    ]
    basic = base64.b64encode(os.environ["CBSP_REVICOM_BASIC_AUTH"].encode()).decode()
    headers = {"Content-Type": "application/json", "Authorization": f"Basic {basic}"}
    async with session.post(
        f"{gateway}/v1/callbacks/revicom", data=json.dumps(body), headers=headers
    ) as response:
        if response.status != 200:
            return None
    acknowledged = time.perf_counter()
    while time.perf_counter() - acknowledged < timeout_s:
        async with session.get(f"{worker}/messages/revicom/{message_uuid}") as view:
            if view.status == 200:
                return time.perf_counter() - acknowledged
        await asyncio.sleep(0.002)
    return None


async def run(gateway: str, worker: str, count: int, rate: float) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session:
        tasks = []
        for _ in range(count):
            tasks.append(asyncio.create_task(probe(session, gateway, worker, timeout_s=10)))
            await asyncio.sleep(1 / rate)
        results = await asyncio.gather(*tasks)
    seen = [r for r in results if r is not None]
    return {
        "probes": count,
        "visible": len(seen),
        **{f"p{p}_ms": (v * 1000 if (v := percentile(seen, p)) is not None else None) for p in (50, 95, 99)},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gateway", required=True)
    parser.add_argument("--worker", required=True)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.gateway, args.worker, args.count, args.rate))))


if __name__ == "__main__":
    main()

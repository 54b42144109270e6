"""Overload: the gateway under open-loop load at 2x and 4x the saturation rate it measured.

The gateway (2 processes x 8 threads, as `cbsp gateway` serves) on raw topics of its own, one
edna status callback per request (so every `200` is one record on ``callbacks.raw.edna``), load
from vegeta (bench/vegeta.py). In order:

1. saturation: closed loop, 32 connections, as the ingest stage measures it;
2. the normal figure: open loop at half that rate, its p99;
3. for 2x and 4x the saturation rate: open loop for 30 s, then at once half the saturation rate
   again for 15 s, the p99 of each second of it: when it is back under the normal figure;
4. the records on the raw topic against the `200`s of all of the above: nothing acknowledged
   is missing, nothing refused is stored;
5. (full runs) the same 2x load on a gateway whose bound is off, as the gateway was before
   admission control: where its requests waited, and what the providers saw.

For each load shot the gateway's own metrics say where requests waited (the thread queue's
histogram, the producer's), and ``ss`` samples the listen backlog once a second.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import resource
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench import vegeta
from bench.ingest import children, cpu_seconds
from bench.loadgen import percentile
from bench.payloads import edna_status
from bench.services import CREDENTIALS, Services, local_broker_pids
from bench.stream import end_offsets
from schemas.topicadmin import TopicPlan, ensure_topics
from schemas.topicnames import TopicNames

MULTIPLES = (2, 4)
UNBOUNDED = {"CBSP_GATEWAY_MAX_QUEUE_WAIT_S": "3600", "CBSP_GATEWAY_MAX_QUEUED": "1000000000"}
WINDOW_S = 1.0
NO_TARGETS = "no targets to attack"


QUICK_SECONDS = {"saturation": 2, "normal": 2, "load": 3, "after": 4}
FULL_SECONDS = {"saturation": 10, "normal": 10, "load": 30, "after": 15}


def run(services: Services, quick: bool, seconds: dict[str, float] | None = None) -> dict[str, Any]:
    seconds = seconds or (QUICK_SECONDS if quick else FULL_SECONDS)
    prefix = f"{services.prefix}overload."
    topics = TopicNames(prefix)
    asyncio.run(ensure_topics(services.bootstrap, topics, TopicPlan()))
    workdir = services.workdir / "overload"
    workdir.mkdir(parents=True, exist_ok=True)
    vegeta.binary()  # built before any server starts (the first time, about a minute)
    ids = itertools.count(70_000_000)
    result: dict[str, Any] = {"seconds": seconds, "multiples": list(MULTIPLES)}
    url, gateway = services.gateway("cbsp", CBSP_TOPIC_PREFIX=prefix)
    try:
        shooter = Shooter(url, gateway.pid, workdir, ids)
        saturation = shooter.shot("saturation", seconds["saturation"], rate=None)
        rate = saturation["ok_per_s"]
        result["saturation_rate"] = rate
        result["saturation"] = saturation
        result["normal"] = shooter.shot("normal", seconds["normal"], rate=rate / 2)
        for multiple in MULTIPLES:
            load = shooter.shot(f"at_{multiple}x", seconds["load"], rate=rate * multiple)
            after = shooter.shot(f"after_{multiple}x", seconds["after"], rate=rate / 2)
            load["after"] = after
            load["recovered_after_s"] = recovered_after(after["windows_p99_ms"], result["normal"]["p99_ms"])
            load["ok_ratio_vs_saturation"] = load["ok_per_s"] / rate if rate else None
            result[f"at_{multiple}x"] = load
        acknowledged = shooter.total_ok
        # the gateway writes no transactions: the end offsets count the records
        stored = asyncio.run(end_offsets(services.bootstrap, [topics.raw("edna")]))
        result["raw"] = {
            "acknowledged": acknowledged,
            "on_raw_topic": stored,
            "acknowledged_missing": max(0, acknowledged - stored),
            "stored_without_200": max(0, stored - acknowledged),
        }
    finally:
        services.stop(gateway)
    if not quick:
        url, gateway = services.gateway("cbsp", CBSP_TOPIC_PREFIX=prefix, **UNBOUNDED)
        try:
            shooter = Shooter(url, gateway.pid, workdir, ids)
            result["unbounded_at_2x"] = shooter.shot("unbounded_at_2x", seconds["load"], rate=rate * 2)
        finally:
            services.stop(gateway)
    return result


class Shooter:
    """Runs vegeta shots at one gateway, each with fresh message ids, and sums them up."""

    def __init__(self, url: str, server_pid: int, workdir: Path, ids: Iterator[int]) -> None:
        self.url = url
        self.server_pid = server_pid
        self.broker_pids = local_broker_pids()
        self.workdir = workdir
        self.ids = ids
        self.total_ok = 0
        self.port = int(url.rsplit(":", 1)[1])

    def shot(self, name: str, duration_s: float, rate: float | None) -> dict[str, Any]:
        count = int((rate or 4000) * duration_s * 1.2) + 200
        targets = self.workdir / f"{name}.targets"
        vegeta.write_targets(targets, (self._target(next(self.ids)) for _ in range(count)))
        before = gateway_metrics(self.url)
        servers = children(self.server_pid)
        cpu_before = (cpu_seconds(servers), cpu_seconds(self.broker_pids), _children_cpu())
        overflows_before = listen_overflows()
        backlog = BacklogSampler(self.port)
        backlog.start()
        try:
            hits = vegeta.attack(targets, self.workdir / f"{name}.bin", duration_s, rate)
        finally:
            backlog.stop()
        cpu = (cpu_seconds(servers), cpu_seconds(self.broker_pids), _children_cpu())
        targets.unlink()
        if any(hit.error == NO_TARGETS for hit in hits):
            raise RuntimeError(f"overload shot {name}: vegeta ran out of its {count} targets")
        after = gateway_metrics(self.url)
        summary = summarize(hits, duration_s)
        summary["offered_rate"] = rate
        summary["gateway"] = metrics_delta(before, after)
        summary["listen_backlog_max"] = backlog.highest
        overflows = listen_overflows()
        # connections the kernel dropped because the accept queue was full (the client sends its
        # SYN again after 1, 3, 7 s: the requests that got no answer in time); machine-wide counters
        summary["listen_overflows"] = (
            None if overflows is None or overflows_before is None else overflows - overflows_before
        )
        # where the machine's two cores went, per second of the shot: the gateway's processes,
        # the local broker, vegeta (the shot lasts a little longer than duration_s: the last answers)
        summary["cpu_cores"] = {
            part: round((after_s - before_s) / duration_s, 2)
            for part, before_s, after_s in zip(("gateway", "broker", "vegeta"), cpu_before, cpu, strict=True)
        }
        self.total_ok += summary["statuses"].get("200", 0)
        return summary

    def _target(self, n: int) -> vegeta.Target:
        request = edna_status(n)
        headers = {"Content-Type": request.content_type, "X-Callback-Token": CREDENTIALS["CBSP_EDNA_TOKEN"]}
        return vegeta.Target(f"{self.url}/v1/callbacks/edna", request.body, headers)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def summarize(hits: list[vegeta.Hit], duration_s: float) -> dict[str, Any]:
    answered = [hit for hit in hits if hit.code != 0]
    ok = [hit.latency_s for hit in answered if hit.code == 200]
    statuses: dict[str, int] = {}
    for hit in answered:
        statuses[str(hit.code)] = statuses.get(str(hit.code), 0) + 1
    errors: dict[str, int] = {}
    for hit in hits:
        if hit.code == 0:
            kind = _error_kind(hit.error)
            errors[kind] = errors.get(kind, 0) + 1
    all_latencies = [hit.latency_s for hit in answered]
    return {
        "seconds": duration_s,
        "requests": len(hits),
        "statuses": statuses,
        "no_answer": len(hits) - len(answered),
        "no_answer_errors": errors,
        "ok_per_s": len(ok) / duration_s,
        "answered_per_s": len(answered) / duration_s,
        **{f"p{p}_ms": _ms(percentile(all_latencies, p)) for p in (50, 99)},
        "ok_p99_ms": _ms(percentile(ok, 99)),
        "windows_p99_ms": windows_p99(answered, duration_s),
    }


def windows_p99(hits: list[vegeta.Hit], duration_s: float) -> list[float | None]:
    """p99 of the answers to the requests sent in each second of the shot."""
    windows: list[list[float]] = [[] for _ in range(max(1, int(duration_s / WINDOW_S)))]
    for hit in hits:
        index = min(int(hit.at_s / WINDOW_S), len(windows) - 1)
        windows[index].append(hit.latency_s)
    return [_ms(percentile(window, 99)) for window in windows]


def recovered_after(windows: list[float | None], normal_p99_ms: float | None) -> float | None:
    """Seconds after the load stopped from which every second's p99 is back under the normal
    figure (None: not within the shot)."""
    if normal_p99_ms is None:
        return None
    for start in range(len(windows)):
        if all(w is not None and w <= normal_p99_ms for w in windows[start:]):
            return start * WINDOW_S
    return None


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


def _error_kind(error: str) -> str:
    lowered = error.lower()
    for kind in ("timeout", "reset", "refused", "eof"):
        if kind in lowered or (kind == "timeout" and "deadline exceeded" in lowered):
            return kind
    return error[:80]


def gateway_metrics(url: str) -> dict[str, float]:
    """The gateway's counters and histogram sums that say where requests waited."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:  # noqa: S310  (loopback)
        text = response.read().decode()
    wanted = (
        "cbsp_gateway_queue_wait_seconds_count",
        "cbsp_gateway_queue_wait_seconds_sum",
        'cbsp_gateway_queue_wait_seconds_bucket{le="0.5"}',
        "cbsp_gateway_overload_refused_total",
        'cbsp_gateway_produce_duration_seconds_count{outcome="acknowledged"}',
        'cbsp_gateway_produce_duration_seconds_sum{outcome="acknowledged"}',
    )
    found: dict[str, float] = dict.fromkeys(wanted, 0.0)
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        for key in wanted:
            if name == key or (key.endswith("_total") and name.startswith(key + "{")):
                found[key] += float(value)
    return found


def metrics_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, Any]:
    delta = {key: after[key] - before[key] for key in after}
    waits = delta["cbsp_gateway_queue_wait_seconds_count"]
    produced = delta['cbsp_gateway_produce_duration_seconds_count{outcome="acknowledged"}']
    return {
        "requests_through_queue": int(waits),
        "queue_wait_mean_ms": delta["cbsp_gateway_queue_wait_seconds_sum"] * 1000 / waits if waits else None,
        "queue_wait_over_500ms": int(waits - delta['cbsp_gateway_queue_wait_seconds_bucket{le="0.5"}']),
        "refused_overload": int(delta["cbsp_gateway_overload_refused_total"]),
        "produce_mean_ms": (
            delta['cbsp_gateway_produce_duration_seconds_sum{outcome="acknowledged"}'] * 1000 / produced
            if produced
            else None
        ),
    }


def listen_overflows() -> int | None:
    """The kernel's count of connections dropped at a full accept queue (TcpExt ListenOverflows,
    as ``nstat`` shows it), or None where /proc/net/netstat does not have it."""
    try:
        lines = Path("/proc/net/netstat").read_text().splitlines()
    except OSError:
        return None
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            found = dict(zip(names.split()[1:], values.split()[1:], strict=False))
            return int(found["ListenOverflows"]) if "ListenOverflows" in found else None
    return None


class BacklogSampler:
    """The listen socket's accept queue (``ss``: Recv-Q of the listener), once a second."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.highest: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            try:
                out = subprocess.run(
                    ["ss", "-Hltn", f"sport = :{self.port}"], capture_output=True, text=True, timeout=5
                ).stdout
            except (OSError, subprocess.TimeoutExpired):
                return  # no ss here: the figure stays None
            for line in out.splitlines():
                match = re.match(r"\S+\s+(\d+)", line)
                if match:
                    self.highest = max(self.highest or 0, int(match.group(1)))

"""The worker's counters, wired: the metrics and the recent activity the agents count into,
Faust's own Prometheus monitor, and ``GET /metrics``.

The ``count_*`` functions are what the agents call on the hot path: a few dictionary
lookups and additions each, no I/O.
"""

from __future__ import annotations

import functools
import time
from typing import Any

from aiohttp.web import Response
from faust import web
from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor

from streams import workerstate
from streams.activity import Activity, DeadLetter
from streams.app import app
from streams.canonical import CanonicalEvent, SourceRef
from streams.metrics import FAUST_PREFIX, create_metrics, exposition, set_gauges

metrics = create_metrics()
activity = Activity()
app.monitor = PrometheusMonitor(metrics=FaustMetrics.create(metrics.registry, FAUST_PREFIX))


@app.page("/metrics")
class MetricsView(web.View):  # type: ignore[misc]  # faust is untyped here
    async def get(self, request: web.Request) -> Response:
        set_gauges(metrics, await workerstate.snapshot(app))
        body, content_type = exposition(metrics)
        return Response(body=body, headers={"Content-Type": content_type})


def count_callback(provider: str, timestamp_s: float | None) -> None:
    """A raw callback handled (whatever became of it)."""
    activity.count_callback(provider, time.time() if timestamp_s is None else timestamp_s)


def count_read_again(topic: str) -> None:
    """A partition sought back to read records it missed."""
    metrics.read_again.labels(topic).inc()


def count_unhandled(provider: str, kind: str) -> None:
    metrics.unhandled.labels(provider, kind).inc()


# The labelled children of the per-event metrics, looked up once per label set:
# ``labels()`` takes a lock and checks its arguments on every call.
@functools.cache
def _events(provider: str, kind: str, status: str) -> Any:
    return metrics.events.labels(provider, kind, status)


@functools.cache
def _latency(provider: str) -> Any:
    return metrics.latency.labels(provider)


@functools.cache
def _duplicates(provider: str, kind: str) -> Any:
    return metrics.duplicates.labels(provider, kind)


def count_event(event: CanonicalEvent, timestamp_s: float | None) -> None:
    """A canonical event handed to the producer; ``timestamp_s``: its raw record's timestamp."""
    record = event.record
    provider = record["provider"]
    status = record.get("status") if event.kind == "status" else None
    _events(provider, event.kind, status or "").inc()
    if timestamp_s is not None:
        _latency(provider).observe(max(0.0, time.time() - timestamp_s))


def count_duplicate(event: CanonicalEvent) -> None:
    _duplicates(event.record["provider"], event.kind).inc()


def count_dead_letter(provider: str, key: bytes | None, exc: Exception, source: SourceRef) -> None:
    metrics.dead_letters.labels(provider, type(exc).__name__).inc()
    key_text = (key or b"").decode(errors="replace")
    reason = f"{type(exc).__name__}: {exc}"
    activity.count_dead_letter(
        DeadLetter(time.time(), provider, key_text, reason, source.topic, source.partition, source.offset)
    )


def timestamp_of(event: Any) -> float | None:
    """The raw record's timestamp, epoch seconds (Faust's message carries it so)."""
    timestamp = event.message.timestamp
    return None if timestamp is None else float(timestamp)

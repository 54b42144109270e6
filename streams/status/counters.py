"""What the batch path counts: the Prometheus metrics (:mod:`.metrics`) and the recent activity
of the status page (:mod:`.activity`), one object the wiring makes per worker.

The ``count_*`` methods are called on the hot path: a few dictionary lookups and additions
each, no I/O.
"""

from __future__ import annotations

import functools
import time

from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor

from streams.canonical import CanonicalEvent, SourceRef
from streams.status.activity import Activity, DeadLetter
from streams.status.metrics import FAUST_PREFIX, WorkerMetrics, create_metrics


class Counters:
    def __init__(self, metrics: WorkerMetrics | None = None, activity: Activity | None = None) -> None:
        self.metrics = create_metrics() if metrics is None else metrics
        self.activity = Activity() if activity is None else activity
        # The labelled children of the per-event metrics, looked up once per label set:
        # ``labels()`` takes a lock and checks its arguments on every call.
        self._events = functools.cache(self.metrics.events.labels)
        self._latency = functools.cache(self.metrics.latency.labels)
        self._duplicates = functools.cache(self.metrics.duplicates.labels)

    def faust_monitor(self) -> PrometheusMonitor:
        """Faust's own Prometheus monitor, counting into the same registry (``cbsp_worker_faust_*``)."""
        return PrometheusMonitor(metrics=FaustMetrics.create(self.metrics.registry, FAUST_PREFIX))

    def count_callback(self, provider: str, timestamp_s: float | None) -> None:
        """A raw callback handled (whatever became of it)."""
        self.activity.count_callback(provider, time.time() if timestamp_s is None else timestamp_s)

    def count_read_again(self, topic: str) -> None:
        """A partition sought back to read records it missed."""
        self.metrics.read_again.labels(topic).inc()

    def count_unhandled(self, provider: str, kind: str) -> None:
        self.metrics.unhandled.labels(provider, kind).inc()

    def count_event(self, event: CanonicalEvent, timestamp_s: float | None) -> None:
        """A canonical event handed to the producer; ``timestamp_s``: its raw record's timestamp."""
        record = event.record
        provider = record["provider"]
        status = record.get("status") if event.kind == "status" else None
        self._events(provider, event.kind, status or "").inc()
        if timestamp_s is not None:
            self._latency(provider).observe(max(0.0, time.time() - timestamp_s))

    def count_duplicate(self, event: CanonicalEvent) -> None:
        self._duplicates(event.record["provider"], event.kind).inc()

    def count_dead_letter(self, provider: str, key: bytes | None, exc: Exception, source: SourceRef) -> None:
        self.metrics.dead_letters.labels(provider, type(exc).__name__).inc()
        key_text = (key or b"").decode(errors="replace")
        reason = f"{type(exc).__name__}: {exc}"
        self.activity.count_dead_letter(
            DeadLetter(time.time(), provider, key_text, reason, source.topic, source.partition, source.offset)
        )

"""Prometheus metrics of the gateway, right whichever server process answers ``GET /metrics``.

Under ``cbsp gateway`` several processes serve requests, so prometheus_client runs in
multiprocess mode: the server creates a fresh ``PROMETHEUS_MULTIPROC_DIR`` before the
workers fork, each process writes its values there, and ``/metrics`` merges them.
prometheus_client picks that mode when it is first imported, so it is imported
here only inside functions, which run in the server processes after the directory
is set, never at import time of the gateway package (the server's master imports it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
PREFIX = "cbsp_gateway_"
# produce latency buckets, seconds: a local acks=all round trip is milliseconds, the timeout is seconds
PRODUCE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# a request's wait for a server thread, seconds: near zero below capacity, the bound (0.5 s) above it
QUEUE_WAIT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass(frozen=True)
class Metrics:
    registry: CollectorRegistry
    requests: Counter
    accepted: Counter
    rejected: Counter
    auth_failures: Counter
    produce_seconds: Histogram
    spooled: Counter
    spool_drained: Counter
    spool_records: Gauge
    spool_oldest_age: Gauge
    overload_refused: Counter
    queue_wait_seconds: Histogram
    # labelled children already made, for the per-request counts: ``labels()`` takes a lock and
    # checks its arguments on every call; a dict lookup is a fraction of that
    _children: dict[tuple[str, ...], Any] = field(default_factory=dict, repr=False)

    def count_request(self, provider: str, code: int) -> None:
        self._child(self.requests, "requests", provider, str(code)).inc()

    def count_accepted(self, provider: str, kind: str) -> None:
        self._child(self.accepted, "accepted", provider, kind).inc()

    def observe_produce(self, outcome: str, seconds: float) -> None:
        self._child(self.produce_seconds, "produce", outcome).observe(seconds)

    def count_overload_refused(self, reason: str) -> None:
        self._child(self.overload_refused, "overload", reason).inc()

    def observe_queue_wait(self, seconds: float) -> None:
        self.queue_wait_seconds.observe(seconds)

    def _child(self, metric: Any, *key: str) -> Any:
        child = self._children.get(key)
        if child is None:  # a race makes the same child twice: labels() returns the same one
            child = self._children[key] = metric.labels(*key[1:])
        return child


def create_metrics() -> Metrics:
    """This app's metrics, registered in a registry of its own (several apps may share a process)."""
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

    registry = CollectorRegistry(auto_describe=True)
    return Metrics(
        registry=registry,
        requests=Counter(
            PREFIX + "http_requests",
            "HTTP requests answered, by provider (none: not a callback URL) and status code",
            ["provider", "code"],
            registry=registry,
        ),
        accepted=Counter(
            PREFIX + "callbacks_accepted",
            "Callbacks acknowledged by Kafka and answered 200, by provider and kind",
            ["provider", "kind"],
            registry=registry,
        ),
        rejected=Counter(
            PREFIX + "requests_rejected",
            "Requests refused for their body and kept in callbacks.rejected, by provider and error code",
            ["provider", "error"],
            registry=registry,
        ),
        auth_failures=Counter(
            PREFIX + "auth_failures",
            "Requests refused by authentication (not stored), by provider and reason",
            ["provider", "reason"],
            registry=registry,
        ),
        produce_seconds=Histogram(
            PREFIX + "produce_duration_seconds",
            "Time from sending a request's records to Kafka's acks=all acknowledgement (or failure)",
            ["outcome"],
            buckets=PRODUCE_BUCKETS,
            registry=registry,
        ),
        spooled=Counter(
            PREFIX + "spooled",
            "Callback records written to the local spool because Kafka did not acknowledge in time",
            ["provider"],
            registry=registry,
        ),
        spool_drained=Counter(
            PREFIX + "spool_drained",
            "Spooled records Kafka acknowledged and the drainer deleted",
            registry=registry,
        ),
        # the spool is one file for all processes: the scraping process reads it (most recent)
        spool_records=Gauge(
            PREFIX + "spool_records",
            "Records in the local spool, waiting for Kafka",
            registry=registry,
            multiprocess_mode="mostrecent",
        ),
        spool_oldest_age=Gauge(
            PREFIX + "spool_oldest_age_seconds",
            "Age of the oldest record in the local spool (0 when empty)",
            registry=registry,
            multiprocess_mode="mostrecent",
        ),
        overload_refused=Counter(
            PREFIX + "overload_refused",
            "Callback requests answered 503 overloaded before they were read (nothing stored), "
            "by reason: queue_wait (waited over the bound for a server thread), queue_full",
            ["reason"],
            registry=registry,
        ),
        queue_wait_seconds=Histogram(
            PREFIX + "queue_wait_seconds",
            "Time a request waited for a server thread (gateway.admission)",
            buckets=QUEUE_WAIT_BUCKETS,
            registry=registry,
        ),
    )


def render(metrics: Metrics) -> tuple[bytes, str]:
    """The exposition text and its content type: all processes' values in multiprocess mode."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    directory = os.environ.get(MULTIPROC_ENV)
    if not directory:
        return generate_latest(metrics.registry), CONTENT_TYPE_LATEST
    merged = CollectorRegistry()
    MultiProcessCollector(merged, path=directory)  # type: ignore[no-untyped-call]  # untyped upstream
    return generate_latest(merged), CONTENT_TYPE_LATEST


def mark_process_dead(pid: int) -> None:
    """Gunicorn's ``child_exit``: drop the live-gauge files of a dead worker."""
    from prometheus_client import multiprocess

    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]  # untyped upstream

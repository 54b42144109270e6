"""Prometheus metrics of a worker, in a registry of the app's own, served at ``GET /metrics``.

The counters and the latency histogram are counted by the batch path once a batch is handed
to Kafka (``streams.rawbatches``): a batch dropped because it was fetched before a rebalance is
counted by the worker that processes it again, never twice. The gauges (lag, table keys,
recovery) are read when ``/metrics`` is asked (``streams.status.snapshot``), so the hot path pays
nothing for them.
Faust's own Prometheus monitor (``faust.sensors.prometheus``) counts into the same
registry under the prefix ``cbsp_worker_faust_`` (docs/metrics.md lists them).
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from streams.status.snapshot import Snapshot

PREFIX = "cbsp_worker_"
FAUST_PREFIX = PREFIX + "faust"  # Faust's monitor appends "_<its metric>"
# raw record written by the gateway -> canonical event handed to the producer, seconds
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


@dataclass(frozen=True)
class WorkerMetrics:
    registry: CollectorRegistry
    events: Counter
    duplicates: Counter
    dead_letters: Counter
    unhandled: Counter
    latency: Histogram
    consumer_lag: Gauge
    table_keys: Gauge
    recovery_remaining: Gauge
    read_again: Counter


def create_metrics() -> WorkerMetrics:
    """The worker's metrics, in a registry of their own."""
    registry = CollectorRegistry(auto_describe=True)
    return WorkerMetrics(
        registry=registry,
        events=Counter(
            PREFIX + "events",
            "Canonical events emitted, by provider, kind and canonical status (empty: not a status event)",
            ["provider", "kind", "status"],
            registry=registry,
        ),
        duplicates=Counter(
            PREFIX + "duplicates_skipped",
            "Events that changed no message state (a provider retry or a replay applied again)",
            ["provider", "kind"],
            registry=registry,
        ),
        dead_letters=Counter(
            PREFIX + "dead_letters",
            "Records sent to callbacks.dlq, by provider and error class",
            ["provider", "reason"],
            registry=registry,
        ),
        unhandled=Counter(
            PREFIX + "unhandled",
            "Raw callbacks kept raw only, not normalized (kinds without canonical events)",
            ["provider", "kind"],
            registry=registry,
        ),
        latency=Histogram(
            PREFIX + "processing_latency_seconds",
            "Time from the raw record's timestamp to its canonical event handed to the producer",
            ["provider"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        ),
        consumer_lag=Gauge(
            PREFIX + "consumer_lag",
            "Records not yet fetched, per assigned source partition: end offset minus position",
            ["topic", "partition"],
            registry=registry,
        ),
        table_keys=Gauge(
            PREFIX + "table_keys",
            "Keys in each table, in this worker's active partitions",
            ["table"],
            registry=registry,
        ),
        recovery_remaining=Gauge(
            PREFIX + "recovery_remaining",
            "Changelog records this worker still has to restore into each table (0 when ready)",
            ["table"],
            registry=registry,
        ),
        read_again=Counter(
            PREFIX + "partitions_read_again",
            "Partitions held back by records never processed and read again from their committed offset",
            ["topic"],
            registry=registry,
        ),
    )


def exposition(metrics: WorkerMetrics) -> tuple[bytes, str]:
    """The Prometheus text of the registry and its content type."""
    return generate_latest(metrics.registry), CONTENT_TYPE_LATEST


def set_gauges(metrics: WorkerMetrics, snapshot: Snapshot) -> None:
    """Replace the gauges' values with a :class:`streams.status.snapshot.Snapshot`'s."""
    for gauge in (metrics.consumer_lag, metrics.table_keys, metrics.recovery_remaining):
        gauge.clear()
    for (topic, partition), lag in snapshot.lags.items():
        metrics.consumer_lag.labels(topic=topic, partition=str(partition)).set(lag)
    for table, keys in snapshot.table_keys.items():
        metrics.table_keys.labels(table=table).set(keys)
    for table, remaining in snapshot.recovery_remaining.items():
        metrics.recovery_remaining.labels(table=table).set(remaining)

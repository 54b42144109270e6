"""docs/metrics.md lists exactly the metrics the worker and the gateway register, with their
types, labels and help texts (and Faust's monitor's metrics, under the worker's prefix)."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

from faust.sensors.prometheus import FaustMetrics
from prometheus_client import CollectorRegistry

from gateway.metrics import create_metrics as create_gateway_metrics
from streams.status.metrics import FAUST_PREFIX, create_metrics

DOC = Path(__file__).parents[2] / "docs" / "metrics.md"
ROW = re.compile(r"^\| `(?P<name>[a-z_]+)` \| (?P<type>\w+) \| (?P<labels>[^|]*) \| (?P<help>[^|]+) \|$")


def documented(section: str) -> dict[str, tuple[str, str, str]]:
    """name -> (type, labels, help) of the rows under the heading ``section``, up to the next one."""
    text = DOC.read_text()
    body = text.split(f"\n{section}\n", 1)[1]
    body = re.split(r"\n#{2,3} ", body, maxsplit=1)[0]
    rows = (ROW.match(line) for line in body.splitlines())
    return {m["name"]: (m["type"], m["labels"].strip(), m["help"].strip()) for m in rows if m}


def exposed_name(name: str, kind: str) -> str:
    return f"{name}_total" if kind == "counter" else name


def registered(
    registry: CollectorRegistry, labels: dict[str, tuple[str, ...]]
) -> dict[str, tuple[str, str, str]]:
    return {
        exposed_name(family.name, family.type): (
            family.type,
            ", ".join(labels.get(family.name, ())),
            family.documentation,
        )
        for family in registry.collect()
    }


def labels_of(metrics: object) -> dict[str, tuple[str, ...]]:
    """metric name -> label names, of the metrics held in the fields of a metrics dataclass."""
    held = (getattr(metrics, spec.name) for spec in fields(metrics))  # type: ignore[arg-type]
    return {metric._name: metric._labelnames for metric in held if hasattr(metric, "_labelnames")}


def test_the_worker_section_lists_every_worker_metric_and_nothing_else() -> None:
    metrics = create_metrics()

    assert documented("## Worker") == registered(metrics.registry, labels_of(metrics))


def test_the_faust_section_lists_the_metrics_of_fausts_monitor() -> None:
    registry = CollectorRegistry()
    faust_metrics = FaustMetrics.create(registry, FAUST_PREFIX)
    labels = {metric._name: metric._labelnames for metric in faust_metrics}

    assert documented("### Faust's own monitor") == registered(registry, labels)


def test_the_gateway_section_lists_every_gateway_metric_and_nothing_else() -> None:
    metrics = create_gateway_metrics()

    assert documented("## Gateway") == registered(metrics.registry, labels_of(metrics))

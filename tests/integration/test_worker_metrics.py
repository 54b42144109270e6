"""The worker's /metrics counts what went through it: every sample case of every provider
posted through the gateway, one of them twice, against a fresh worker; the expected numbers
come from the cases' own expectations (tests/data/)."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.cases import Case, load_cases
from tests.integration.pipeline import Pipeline

CASES = [case for case in load_cases() if "callbacks" in case.spec]
DUPLICATED = "revicom/status_delivered"


def samples(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = requests.get(f"{url}/metrics", timeout=10).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def series(found: dict[Any, float], name: str, *labels: str) -> Counter[tuple[str, ...]]:
    """The samples of ``name`` summed by the values of ``labels``."""
    sums: Counter[tuple[str, ...]] = Counter()
    for (sample, pairs), value in found.items():
        if sample == name and value:
            named = dict(pairs)
            sums[tuple(named[label] for label in labels)] += int(value)
    return sums


def expected(posted: list[Case]) -> dict[str, Counter[tuple[str, ...]]]:
    events: Counter[tuple[str, ...]] = Counter()
    duplicates: Counter[tuple[str, ...]] = Counter()
    dead_letters: Counter[tuple[str, ...]] = Counter()
    unhandled: Counter[tuple[str, ...]] = Counter()
    held: set[tuple[str, str, str]] = set()
    for case in posted:
        for event in case.spec.get("events", []):
            record = event["record"]
            status = (record.get("status") or "") if event["kind"] == "status" else ""
            applied = (record["message_key"], event["kind"], record["event_id"])
            if applied in held:  # a duplicate emits nothing: it is counted as one, not as an event
                duplicates[(case.provider, event["kind"])] += 1
            else:
                events[(case.provider, event["kind"], status)] += 1
            held.add(applied)
        if "dead_letter" in case.spec:
            dead_letters[(case.provider,)] += 1
        for callback in case.spec["callbacks"]:
            if callback["kind"] == "other":
                unhandled[(case.provider, "other")] += 1
    return {"events": events, "duplicates": duplicates, "dead_letters": dead_letters, "unhandled": unhandled}


def test_metrics_count_the_events_duplicates_dead_letters_and_unhandled_callbacks_sent(
    fresh_pipeline: Pipeline,
) -> None:
    pipeline = fresh_pipeline
    worker = pipeline.start_worker()
    pipeline.start_gateway()
    posted = [*CASES, *(case for case in CASES if case.id == DUPLICATED)]
    for case in posted:
        response = pipeline.post(case.provider, case.body_bytes(), case.content_type)
        assert response.status_code == 200, (case.id, response.text)
    want = expected(posted)
    assert want["duplicates"][("revicom", "status")] >= 1 and sum(want["dead_letters"].values()) > 0

    found: dict[str, Counter[tuple[str, ...]]] = {}
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        metrics = samples(worker)
        found = {
            "events": series(metrics, "cbsp_worker_events_total", "provider", "kind", "status"),
            "duplicates": series(metrics, "cbsp_worker_duplicates_skipped_total", "provider", "kind"),
            "dead_letters": series(metrics, "cbsp_worker_dead_letters_total", "provider"),
            "unhandled": series(metrics, "cbsp_worker_unhandled_total", "provider", "kind"),
        }
        if found == want:
            break
        time.sleep(0.5)

    assert found == want
    reasons = series(metrics, "cbsp_worker_dead_letters_total", "reason")
    assert set(reasons) == {("NormalizeError",)}
    latencies = series(metrics, "cbsp_worker_processing_latency_seconds_count", "provider")
    assert sum(latencies.values()) == sum(want["events"].values())
    message_keys = {e["record"]["message_key"] for case in CASES for e in case.spec.get("events", [])}
    assert series(metrics, "cbsp_worker_table_keys", "table")[("message_states",)] == len(message_keys)
    assert not series(metrics, "cbsp_worker_recovery_remaining", "table")  # all zero: ready
    # every raw partition, nothing left: the lag is the consumer's position against the end, read
    # when /metrics is asked; the events are counted before the fetcher's position of the last
    # fetch is known, so it may take a moment (a CI run saw 1 to 4 on four partitions at first)
    deadline = time.monotonic() + 60
    while True:
        raw_lags = {
            key: value
            for key, value in metrics.items()
            if key[0] == "cbsp_worker_consumer_lag" and ".callbacks.raw." in dict(key[1])["topic"]
        }
        if (len(raw_lags) == 4 * 8 and not any(raw_lags.values())) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
        metrics = samples(worker)
    lagging = {dict(key[1])["topic"] + "/" + dict(key[1])["partition"]: v for key, v in raw_lags.items() if v}
    assert len(raw_lags) == 4 * 8 and not lagging, f"raw partitions still behind after 60 s: {lagging}"
    # and nothing was counted twice meanwhile
    assert series(metrics, "cbsp_worker_events_total", "provider", "kind", "status") == want["events"]
    assert series(metrics, "cbsp_worker_duplicates_skipped_total", "provider", "kind") == want["duplicates"]
    # Faust's monitor is installed; it counts what Faust itself reads (the tables' recovery), not
    # the records the batch path takes out of each fetch
    assert ("cbsp_worker_faust_messages_received_total", ()) in metrics

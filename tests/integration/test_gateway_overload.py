"""Overload: a gateway flooded past its bound refuses at once with 503 + Retry-After, keeps
everything it accepted, stores nothing it refused; a provider that sends the refused requests
again ends with every callback counted once in the views. Real gunicorn, real broker."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from queue import Empty, SimpleQueue
from typing import Any

import pytest
import requests

from tests.faults.load import Acknowledged, CallbackLoad, batched, missing_from_raw
from tests.integration.groundtruth import answers_as_expected, expected_views, histories
from tests.integration.pipeline import Pipeline

CLIENTS = 24  # concurrent providers' connections, against one process with one thread
MAX_QUEUED = 3


@dataclass(frozen=True)
class Answer:
    batch: list[dict[str, Any]]
    status: int
    seconds: float
    retry_after: str | None
    body: Any
    request_id: str


@pytest.fixture
def overload_pipeline(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Pipeline]:
    pipeline = Pipeline(kafka_bootstrap, tmp_path)
    try:
        pipeline.create_topics()
        pipeline.start_gateway(
            CBSP_GATEWAY_THREADS="1",
            CBSP_GATEWAY_MAX_QUEUED=str(MAX_QUEUED),
            CBSP_GATEWAY_MAX_QUEUE_WAIT_S="0.02",
            CBSP_GATEWAY_OVERLOAD_RETRY_AFTER_S="1",
        )
        yield pipeline
    finally:
        pipeline.stop()


def flood(pipeline: Pipeline, batches: list[list[dict[str, Any]]]) -> list[Answer]:
    """Each batch posted once, from CLIENTS threads at once, without retrying."""
    work: SimpleQueue[list[dict[str, Any]]] = SimpleQueue()
    for batch in batches:
        work.put(batch)
    answers: list[Answer] = []
    failures: list[str] = []

    def client() -> None:
        session = requests.Session()
        while True:
            try:
                batch = work.get_nowait()
            except Empty:
                return
            began = time.monotonic()
            try:
                response = session.post(
                    f"{pipeline.gateway_url}/v1/callbacks/revicom",
                    data=json.dumps(batch).encode(),
                    headers={"Content-Type": "application/json"},
                    auth=("revicom-test", "revicom-password"),
                    timeout=30,
                )
            except requests.RequestException as exc:  # no answer at all: what the bound prevents
                failures.append(f"{type(exc).__name__}: {exc}")
                continue
            answers.append(
                Answer(
                    batch,
                    response.status_code,
                    time.monotonic() - began,
                    response.headers.get("Retry-After"),
                    response.json() if response.content else None,
                    response.headers.get("X-Request-Id", ""),
                )
            )

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(t.is_alive() for t in threads), "the flood did not finish in 120 s"
    assert failures == [], f"requests without an answer: {failures[:5]}"
    return answers


def refused_total(pipeline: Pipeline) -> int:
    return int(pipeline.gateway_metric_total("cbsp_gateway_overload_refused_total"))


def test_an_overloaded_gateway_refuses_at_once_and_the_retried_requests_count_once(
    overload_pipeline: Pipeline,
) -> None:
    pipeline = overload_pipeline
    callbacks = histories(60, seed=22)
    batches = batched(callbacks, size=2)

    answers = flood(pipeline, batches)

    assert len(answers) == len(batches)
    statuses = Counter(a.status for a in answers)
    assert set(statuses) == {200, 503}, f"expected both 200 and 503 answers: {statuses}"
    refused = [a for a in answers if a.status == 503]
    for answer in refused:
        assert answer.body["error"] == "overloaded", answer.body
        assert answer.retry_after == "1"
        assert "nothing was stored" in answer.body["detail"]
    assert refused_total(pipeline) == len(refused)
    slowest_refusal = max(a.seconds for a in refused)
    assert slowest_refusal < 5, f"a refusal took {slowest_refusal:.2f} s: refusals must come at once"

    # what was accepted is on the raw topic; what was refused is not
    accepted = [Acknowledged(a.request_id, a.batch) for a in answers if a.status == 200]
    assert missing_from_raw(pipeline, accepted) == []
    assert sum(pipeline.raw_ends().values()) == sum(len(a.batch) for a in answers if a.status == 200)

    # the provider sends the refused requests again, retrying 503s as it does, until accepted
    retry = CallbackLoad(pipeline, [a.batch for a in refused], pause_s=0)
    retry.start()
    retry.join(timeout_s=120)
    assert missing_from_raw(pipeline, retry.acknowledged) == []
    assert sum(pipeline.raw_ends().values()) == len(callbacks)  # each callback stored once

    pipeline.start_worker()
    answers_as_expected(pipeline.worker_urls, expected_views(callbacks), timeout_s=120)


def test_an_admitted_request_keeps_its_guarantees_under_the_bound(overload_pipeline: Pipeline) -> None:
    """Below the bound nothing is refused: one client at a time is always let in, also one that
    opens a connection per request and closes the last one just before (32 requests)."""
    pipeline = overload_pipeline
    callbacks = histories(5, seed=23)
    for batch in batched(callbacks, size=1):
        response = pipeline.post("revicom", json.dumps(batch).encode(), "application/json")
        assert response.status_code == 200, response.text
    ready = requests.get(f"{pipeline.gateway_url}/readyz", timeout=10).json()
    assert ready["admission"]["refused"] == {"queue_wait": 0, "queue_full": 0}
    assert ready["admission"]["max_queued"] == MAX_QUEUED
    assert ready["admission"]["state"] == "admitting"

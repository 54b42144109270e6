"""The gateway's spool through real faults, each on a broker of the test's own: Kafka stopped under
steady load and restarted; the gateway SIGKILLed while spooling; the disk under the spool read-only,
then full. Each test checks the ground truth: every callback answered 200 is in its raw
topic exactly once, its events are emitted exactly once, and the views are the states the merge
rules give for exactly the acknowledged callbacks.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from cbsp.localkafka import LocalKafka
from tests.faults.load import Acknowledged, CallbackLoad, batched, missing_from_raw
from tests.integration.groundtruth import (
    answers_as_expected,
    emitted_event_ids,
    expected_views,
    histories,
    sent_event_ids,
)
from tests.integration.pipeline import Pipeline

PRODUCE_TIMEOUT_S = 2.0
SPOOL_AFTER_S = 1.0
GATEWAY_ENV = {
    "CBSP_PRODUCE_TIMEOUT_S": str(PRODUCE_TIMEOUT_S),
    "CBSP_GATEWAY_SPOOL_AFTER_S": str(SPOOL_AFTER_S),
}
WORKER_ENV = {"CBSP_PARTITIONS": "4"}  # as the topics the fixture creates
OUTAGE_S = float(os.environ.get("CBSP_FAULTS_OUTAGE_S", "30"))  # longer for the note's numbers
PAUSE_S = 0.1  # between the load's requests, 4 callbacks each


@pytest.fixture
def own_pipeline(own_broker: LocalKafka, tmp_path: Path) -> Iterator[Pipeline]:
    own_broker.start()
    pipeline = Pipeline(own_broker.bootstrap_servers, tmp_path / "pipeline")
    pipeline.workdir.mkdir()
    pipeline.create_topics(partitions=4)
    try:
        yield pipeline
    finally:
        pipeline.stop()


def test_kafka_stopped_under_steady_load_loses_nothing_and_doubles_nothing(
    own_broker: LocalKafka, own_pipeline: Pipeline
) -> None:
    pipeline = own_pipeline
    pipeline.start_worker(**WORKER_ENV)
    pipeline.gateway_url = pipeline.spawn_gateway(workers=2, **GATEWAY_ENV)  # two processes, one spool
    callbacks = histories(int((OUTAGE_S + 90) / PAUSE_S), seed=11)
    load = CallbackLoad(pipeline, batched(callbacks, 4), pause_s=PAUSE_S)
    load.start()
    try:
        load.wait_acknowledged(20)
        own_broker.stop()
        outage_started = time.monotonic()
        before = len(load.acknowledged)
        time.sleep(OUTAGE_S)
        spooled = spool_records(pipeline)
        assert readiness(pipeline)["status"] == "degraded"
        during = len(load.acknowledged) - before
        own_broker.start()
        outage_s = time.monotonic() - outage_started
        drain_s = wait_drained(pipeline, timeout_s=120)
        load.wait_acknowledged(len(load.acknowledged) + 20)
    finally:
        load.stop()

    assert not load.refusals, load.refusals  # the spool answered for Kafka: not one 503
    assert spooled > 0 and during > 0
    check_ground_truth(pipeline, load.acknowledged)
    assert pipeline.process("worker").poll() is None, pipeline.log_tail("worker")
    print(
        f"outage {outage_s:.1f}s: {during} requests ({4 * during} callbacks) acknowledged during it,"
        f" {spooled} records in the spool at the restart, drained in {drain_s:.1f}s,"
        f" {len(load.callbacks())} callbacks acknowledged in all, none missing or doubled"
    )


def test_a_gateway_killed_while_spooling_drains_after_its_restart(
    own_broker: LocalKafka, own_pipeline: Pipeline
) -> None:
    pipeline = own_pipeline
    own_broker.stop()
    pipeline.gateway_url = pipeline.spawn_gateway(**GATEWAY_ENV)
    load = CallbackLoad(pipeline, batched(histories(60, seed=12), 4), pause_s=0.02)
    load.start()
    load.wait_acknowledged(10)
    kill_tree(pipeline.process("gateway").pid)  # while requests are in the middle of spooling
    load.stop()
    pipeline.process("gateway").wait(timeout=10)
    assert len(load.acknowledged) >= 10

    own_broker.start()
    pipeline.start_worker(**WORKER_ENV)
    pipeline.gateway_url = pipeline.spawn_gateway("gateway-restarted", **GATEWAY_ENV)
    wait_drained(pipeline, timeout_s=120)  # after the killed process's drain lease expired
    check_ground_truth(pipeline, load.acknowledged)


def test_a_read_only_then_full_disk_under_the_spool_is_a_503_and_a_clear_log_line(
    own_broker: LocalKafka, own_pipeline: Pipeline
) -> None:
    pipeline = own_pipeline
    own_broker.stop()
    spool_dir = pipeline.workdir / "small-disk"
    with small_disk(spool_dir, size="4m", read_only=True):
        env = {**GATEWAY_ENV, "CBSP_GATEWAY_SPOOL_MIN_FREE_BYTES": "0"}  # the disk itself fills up
        pipeline.gateway_url = pipeline.spawn_gateway(CBSP_GATEWAY_SPOOL_DIR=str(spool_dir), **env)
        assert_refused(pipeline, "spool_unavailable", "cannot append")  # read-only
        assert readiness(pipeline)["spool"]["state"] == "unavailable"

        subprocess.run(["mount", "-o", "remount,rw", str(spool_dir)], check=True)
        (spool_dir / "ballast").write_bytes(b"\0" * 1024 * 1024)  # freed later, so the spool can drain
        padded = [{**c, "padding": "x" * 2000} for c in histories(3000, seed=13)]
        load = CallbackLoad(pipeline, batched(padded, 4), pause_s=0.02, stop_on_refusal=True)
        load.start()
        load.join(timeout_s=180)  # until the first refusal
        assert load.last_refusal is not None and load.refusals == {"503": 1}, load.refusals
        status, body = load.last_refusal
        assert body["error"] == "spool_unavailable" and "database or disk is full" in body["detail"], body
        assert len(load.acknowledged) > 0
        log = pipeline.log_tail("gateway", 100_000)
        assert log.count("spool write failed, answering 503") == 2
        assert requests.get(f"{pipeline.gateway_url}/healthz", timeout=5).status_code == 200

        (spool_dir / "ballast").unlink()
        own_broker.start()
        pipeline.start_worker(**WORKER_ENV)
        wait_drained(pipeline, timeout_s=120)
        check_ground_truth(pipeline, load.acknowledged)
        pipeline.stop()  # the gateway holds the spool file open: stop it before unmounting


def assert_refused(pipeline: Pipeline, error: str, detail: str) -> None:
    one = json.dumps([histories(1, seed=14)[0]]).encode()
    response = pipeline.post("revicom", one, "application/json")
    assert response.status_code == 503 and response.json()["error"] == error, response.text
    assert detail in response.json()["detail"]
    assert response.headers["Retry-After"]


# -- the ground truth, and the gateway's state -----------------------------------------------


def check_ground_truth(pipeline: Pipeline, acknowledged: list[Acknowledged]) -> None:
    """Each acknowledged callback once in its raw topic, its events once, the views right."""
    callbacks = [callback for ack in acknowledged for callback in ack.callbacks]
    assert missing_from_raw(pipeline, acknowledged) == []
    raw = pipeline.consume([pipeline.topics.raw("revicom")], count=len(callbacks) + 1, timeout_s=5)
    seen = Counter((r.headers.get("request_id"), r.value) for r in raw)
    twice = [(rid, n) for (rid, _), n in seen.items() if n > 1]
    assert len(raw) == len(callbacks), f"records more than once, (request id, times): {twice}"
    answers_as_expected(pipeline.worker_urls, expected_views(callbacks), timeout_s=120)
    pipeline.wait_caught_up()  # the views change before the transaction commits: now its events are out
    sent = sent_event_ids(callbacks)
    assert emitted_event_ids(pipeline, callbacks, count=sum(sent.values()) + 1) == sent


def readiness(pipeline: Pipeline) -> dict[str, Any]:
    body: dict[str, Any] = requests.get(f"{pipeline.gateway_url}/readyz", timeout=10).json()
    return body


def spool_records(pipeline: Pipeline) -> int:
    return int(readiness(pipeline)["spool"]["records"])


def wait_drained(pipeline: Pipeline, timeout_s: float) -> float:
    started = time.monotonic()
    while spool_records(pipeline) > 0:
        assert time.monotonic() - started < timeout_s, f"spool not drained: {readiness(pipeline)}"
        time.sleep(0.2)
    return time.monotonic() - started


def kill_tree(pid: int) -> None:
    """SIGKILL a process and its children at once (a crash, not a stop)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    os.kill(pid, signal.SIGKILL)
    for child in children:
        os.kill(int(child), signal.SIGKILL)


class small_disk:  # noqa: N801  (used as a context manager, like a function)
    """A tmpfs of ``size`` mounted at ``path`` for the duration (root, as CI is)."""

    def __init__(self, path: Path, size: str, read_only: bool = False) -> None:
        self.path, self.options = path, f"size={size}" + (",ro" if read_only else "")

    def __enter__(self) -> Path:
        self.path.mkdir(parents=True)
        result = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", self.options, "tmpfs", str(self.path)],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, f"this test mounts a small tmpfs and needs root: {result.stderr}"
        return self.path

    def __exit__(self, *exc: object) -> None:
        subprocess.run(["umount", "-l", str(self.path)], check=False)

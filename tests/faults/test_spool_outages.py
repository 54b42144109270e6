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
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from cbsp.localkafka import LocalKafka
from streams import codecs
from tests.integration.pipeline import Pipeline, free_port, wait_answers
from tests.integration.test_state_workers import expected_views, histories, sent_event_ids

PRODUCE_TIMEOUT_S = 2.0
SPOOL_AFTER_S = 1.0
GATEWAY_ENV = {
    "CBSP_PRODUCE_TIMEOUT_S": str(PRODUCE_TIMEOUT_S),
    "CBSP_GATEWAY_SPOOL_AFTER_S": str(SPOOL_AFTER_S),
}
WORKER_ENV = {"CBSP_PARTITIONS": "4"}  # as the topics the fixture creates
OUTAGE_S = float(os.environ.get("CBSP_FAULTS_OUTAGE_S", "30"))  # longer for the note's numbers
RATE_PER_S = 10.0  # requests per second of the steady load, 4 callbacks each


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[LocalKafka]:
    broker = LocalKafka(
        home=tmp_path / "kafka",
        cache=LocalKafka.from_env().cache,
        port=free_port(),
        controller_port=free_port(),
        heap="384m",
    )
    try:
        yield broker
    finally:
        broker.stop()


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
    pipeline.gateway_url = pipeline.spawn_gateway(**GATEWAY_ENV)
    load = SteadyLoad(pipeline, histories(int(RATE_PER_S * (OUTAGE_S + 90)), seed=11))
    load.start()
    try:
        load.wait_for(20)
        own_broker.stop()
        outage_started = time.monotonic()
        during = load.acknowledged_count()
        time.sleep(OUTAGE_S)
        spooled = spool_records(pipeline)
        assert readiness(pipeline)["status"] == "degraded"
        own_broker.start()
        outage_s = time.monotonic() - outage_started
        drain_s = wait_drained(pipeline, timeout_s=120)
        load.wait_for(load.acknowledged_count() + 20)
    finally:
        load.stop()

    assert load.refused == [], load.refused[:3]  # the spool answered for Kafka: no 503 at all
    assert spooled > 0 and load.acknowledged_count() > during
    check_ground_truth(pipeline, load.acknowledged)
    assert pipeline.process("worker").poll() is None, pipeline.log_tail("worker")
    print(
        f"outage {outage_s:.1f}s at {RATE_PER_S:g} req/s: {spooled} records spooled at the restart,"
        f" drained in {drain_s:.1f}s, {len(load.acknowledged)} callbacks acknowledged, 0 lost"
    )


def test_a_gateway_killed_while_spooling_drains_after_its_restart(
    own_broker: LocalKafka, own_pipeline: Pipeline
) -> None:
    pipeline = own_pipeline
    own_broker.stop()
    pipeline.gateway_url = pipeline.spawn_gateway(**GATEWAY_ENV)
    load = SteadyLoad(pipeline, histories(60, seed=12))
    load.start()
    load.wait_for(40)
    kill_tree(pipeline.process("gateway").pid)  # while requests are in the middle of spooling
    load.stop()
    pipeline.process("gateway").wait(timeout=10)
    assert load.acknowledged_count() >= 40 and spool_records(pipeline) >= load.acknowledged_count()

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
        load = SteadyLoad(pipeline, histories(3000, seed=13), rate_per_s=40, padding=2000)
        load.start()
        load.wait_for_refusal(timeout_s=120)
        load.stop()
        assert {body["error"] for _, body in load.refused} == {"spool_unavailable"}, load.refused[:3]
        assert "database or disk is full" in load.refused[0][1]["detail"]
        assert load.acknowledged_count() > 0
        log = pipeline.log_tail("gateway", 100_000)
        assert log.count("spool write failed, answering 503") == 1 + len(load.refused)
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


# -- the load, and the ground truth ----------------------------------------------------------


@dataclass
class SteadyLoad:
    """Posts the callbacks, four per request, at a steady rate from a thread, and keeps every
    callback answered 200 (acknowledged) and every refusal (status, body)."""

    pipeline: Pipeline
    callbacks: list[dict[str, Any]]
    rate_per_s: float = RATE_PER_S
    padding: int = 0  # bytes of filler per callback (a disk fills sooner)
    acknowledged: list[dict[str, Any]] = field(default_factory=list)
    refused: list[tuple[int, Any]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(60)

    def acknowledged_count(self) -> int:
        return len(self.acknowledged)

    def wait_for(self, count: int, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while self.acknowledged_count() < count:
            assert time.monotonic() < deadline, f"only {self.acknowledged_count()} of {count} acknowledged"
            assert self._thread is not None and self._thread.is_alive(), "the load ran out of callbacks"
            time.sleep(0.1)

    def wait_for_refusal(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not self.refused:
            assert time.monotonic() < deadline, "never refused"
            time.sleep(0.1)

    def _run(self) -> None:
        for start in range(0, len(self.callbacks), 4):
            if self._stop.wait(1 / self.rate_per_s):
                return
            batch = [
                {**c, "padding": "x" * self.padding} if self.padding else c
                for c in self.callbacks[start : start + 4]
            ]
            try:
                response = self.pipeline.post("revicom", json.dumps(batch).encode(), "application/json")
            except requests.RequestException as exc:  # e.g. the gateway killed mid-request
                self.refused.append((0, repr(exc)))
                continue
            if response.status_code == 200:
                self.acknowledged += batch
            else:
                self.refused.append((response.status_code, response.json()))


def check_ground_truth(pipeline: Pipeline, acknowledged: list[dict[str, Any]]) -> None:
    """Each acknowledged callback once in its raw topic, its events once, the views right."""
    raw = pipeline.consume([pipeline.topics.raw("revicom")], count=len(acknowledged) + 1, timeout_s=10)
    assert Counter(canonical(json.loads(r.value or b"")) for r in raw) == Counter(
        canonical(c) for c in acknowledged
    )
    expected = expected_views(acknowledged)
    wait_answers(pipeline.worker_urls, sorted(expected), 120, done=lambda path, body: body == expected[path])
    events = pipeline.consume(
        pipeline.topics.events_all(), count=sum(sent_event_ids(acknowledged).values()) + 1, timeout_s=10
    )
    emitted = Counter(codecs.decode_message(r.value or b"")["event_id"] for r in events)
    assert emitted == sent_event_ids(acknowledged)


def canonical(callback: dict[str, Any]) -> str:
    return json.dumps(callback, sort_keys=True)


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

"""Fortytwo's states through the real gateway, broker and worker: each keeps its meaning in
the canonical status, in the worker's view and on events.status.v1 (issue 19); and what a
replay does to a state stored under the old mapping (every failure FAILED)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import requests
from prometheus_client.parser import text_string_to_metric_families

from streams import codecs
from tests.integration.pipeline import ConsumedRecord, Pipeline

# provider state -> (status, rank, is_final)
EXPECTED = {
    "ACCEPTD": ("SENT", 20, False),
    "UNKNOWN": ("UNKNOWN", 30, False),
    "REJECTD": ("REJECTED", 40, True),
    "UNDELIV": ("UNDELIVERED", 40, True),
    "EXPIRED": ("EXPIRED", 40, True),
    "DELETED": ("CANCELLED", 40, True),
    "DELIVRD": ("DELIVERED", 50, True),
    "SEEN": ("READ", 60, True),
}
FAILURES = ("REJECTD", "UNDELIV", "EXPIRED", "DELETED")
# a worker deployed with this on PYTHONPATH normalizes as before issue 19
OLD_MAPPING = f"""from streams.normalize import fortytwo
fortytwo.STATUSES.update(dict.fromkeys({FAILURES!r}, "FAILED"))
"""


def post_reports(pipeline: Pipeline, states: tuple[str, ...]) -> dict[str, str]:
    """One delivery report of each state, each for its own message; message id -> state."""
    messages = {f"ft-{uuid.uuid4().hex[:12]}-{state}": state for state in states}
    for number, (message_id, state) in enumerate(messages.items()):
        report = {"type": "SMS", "message_id": message_id, "status": state, "error_code": 0}
        report |= {"micro_timestamp": 1773480413000 + number, "timestamp": 1773480413}
        body = json.dumps({"api_job_id": "job-19", "data": [report]}).encode()
        assert pipeline.post("fortytwo", body, "application/json").status_code == 200
    return messages


def status_events(
    pipeline: Pipeline, messages: dict[str, str], count: int, timeout_s: float = 30
) -> list[dict[str, Any]]:
    """The messages' events on events.status.v1: ``count`` of them, or what came in ``timeout_s``."""
    keys = {f"fortytwo:{message_id}".encode() for message_id in messages}
    records = pipeline.consume([pipeline.topics.event("status")], keys=keys, count=count, timeout_s=timeout_s)
    return [decoded(record) for record in records]


def decoded(record: ConsumedRecord) -> dict[str, Any]:
    return codecs.decode_message(record.value or b"", record.headers.items())


def replay_fortytwo(pipeline: Pipeline) -> str:
    result = pipeline.cbsp("replay", "--provider", "fortytwo", "--no-progress")
    assert result.returncode == 0, result.stderr
    return result.stdout


def duplicates_skipped(url: str) -> float:
    text = requests.get(f"{url}/metrics", timeout=10).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "cbsp_worker_duplicates_skipped_total"
        and sample.labels == {"provider": "fortytwo", "kind": "status"}
    )


def test_each_state_keeps_its_meaning_in_the_view_and_on_the_status_topic(pipeline: Pipeline) -> None:
    messages = post_reports(pipeline, tuple(EXPECTED))

    for message_id, state in messages.items():
        view = pipeline.wait_view("fortytwo", message_id, lambda s: s["status"] is not None)["status"]
        assert (view["status"], view["rank"], view["is_final"]) == EXPECTED[state], state
        assert view["provider_status"] == state
    events = status_events(pipeline, messages, count=len(messages))
    assert len(events) == len(messages)
    got = {e["provider_message_id"]: (e["status"], e["status_rank"], e["is_final"]) for e in events}
    assert got == {message_id: EXPECTED[state] for message_id, state in messages.items()}
    assert {e["provider_message_id"]: e["provider_status"] for e in events} == messages


def test_a_replay_leaves_stored_failures_failed_and_a_fresh_app_rebuilds_them(
    fresh_pipeline: Pipeline,
) -> None:
    pipeline = fresh_pipeline
    old_mapping = pipeline.workdir / "old_mapping"
    old_mapping.mkdir()
    (old_mapping / "sitecustomize.py").write_text(OLD_MAPPING)
    pipeline.start_worker("old", PYTHONPATH=str(old_mapping))
    pipeline.start_gateway()
    messages = post_reports(pipeline, FAILURES)
    for message_id in messages:
        pipeline.wait_view("fortytwo", message_id, lambda s: s["status"]["status"] == "FAILED")
    pipeline.stop()  # deploy issue 19: the same app id, the same tables
    pipeline.worker_urls.clear()
    fixed = pipeline.start_worker("fixed")

    assert "4 records read, 4 sent, 4 events emitted" in replay_fortytwo(pipeline)

    deadline = time.monotonic() + 30
    while duplicates_skipped(fixed) < 4:  # the state held every replayed event id already
        assert time.monotonic() < deadline, "the replayed events were never applied"
        time.sleep(0.3)
    for message_id, state in messages.items():
        view = pipeline.view("fortytwo", message_id).json()["status"]
        assert (view["status"], view["provider_status"]) == ("FAILED", state)

    # a fresh app (its own app id, so its own group and changelogs; its own data dir) reads
    # the raw topics from the start (CBSP_WORKER_OFFSET_RESET=earliest) and rebuilds them
    pipeline.start_worker("rebuilt", CBSP_WORKER_APP_ID=f"cbsp-rebuilt-{uuid.uuid4().hex[:6]}")
    for message_id, state in messages.items():
        want = EXPECTED[state][0]
        view = pipeline.wait_view(
            "fortytwo", message_id, lambda s, w=want: s["status"]["status"] == w, worker=1
        )
        assert (view["status"]["provider_status"], view["event_count"]) == (state, 1)
    # on events.status.v1 each report's one event id has come with FAILED, then the new status
    # (from the rebuild; at most 16 events: a worker may emit an event it held already again)
    events = status_events(pipeline, messages, count=16, timeout_s=5)
    statuses: dict[str, set[str]] = {}
    for event in events:
        statuses.setdefault(event["event_id"], set()).add(event["status"])
    state_of = {e["event_id"]: messages[e["provider_message_id"]] for e in events}
    assert len(statuses) == len(messages)
    assert statuses == {event_id: {"FAILED", EXPECTED[state_of[event_id]][0]} for event_id in statuses}

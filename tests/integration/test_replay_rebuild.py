"""A fresh app version rebuilds every message's state from history with `cbsp replay`, and a
second replay of the same range changes nothing and emits nothing on state.message.v1."""

from __future__ import annotations

import json
import time
import uuid

from tests.integration.pipeline import Pipeline


def replay(pipeline: Pipeline) -> str:
    result = pipeline.cbsp("replay", "--no-progress")
    assert result.returncode == 0, result.stderr
    return result.stdout


def scenario(n: int) -> list[tuple[str, bytes]]:
    """Revicom messages with late, duplicate and out-of-order callbacks; fortytwo bundles."""
    requests = []
    for i in range(n):
        common = {
            "message_uuid": f"rebuild-{uuid.uuid4()}",
            "channel_type": "SMS",
            "cascade_message_uuid": f"c{i}",
            "cascade_step": 1,
        }
        items = [
            {
                **common,
                "callback_event": "delivered",
                "status": "delivered",
                "status_time": "2024-07-01T10:00:05Z",
            },
            {**common, "callback_event": "sent", "status": "sent", "status_time": "2024-07-01T10:00:00Z"},
            {
                **common,
                "callback_event": "price",
                "parts": 2,
                "price": 0.031,
                "currency": "EUR",
                "price_time": "2024-07-01T10:00:06Z",
            },
            {
                **common,
                "callback_event": "click",
                "url": "https://example.org",
                "short_url": "a.bc/1",
                "click_time": "2024-07-01T10:05:00Z",
            },
        ]
        requests.append(("revicom", json.dumps(items + items[:1]).encode()))
        reports = [
            {
                "message_id": f"rebuild-ft-{i}-{uuid.uuid4().hex[:6]}",
                "type": "SMS",
                "status": "DELIVRD",
                "timestamp": 1719828000,
                "micro_timestamp": 1719828000123,
            }
        ]
        requests.append(("fortytwo", json.dumps({"api_job_id": "j", "data": reports}).encode()))
    return requests


def keys_of(requests: list[tuple[str, bytes]]) -> list[tuple[str, str]]:
    found = []
    for provider, body in requests:
        parsed = json.loads(body)
        items = parsed if isinstance(parsed, list) else parsed["data"]
        found += [(provider, item.get("message_uuid") or item["message_id"]) for item in items]
    return sorted(set(found))


def wait_replayed(pipeline: Pipeline, *groups: str) -> None:
    """Until each app has committed every replayed record, and so what it made of them."""
    for group in groups:
        pipeline.wait_caught_up(topic=pipeline.topics.replay, group=group)


def test_a_fresh_app_version_rebuilds_the_same_states_and_a_second_replay_changes_nothing(
    fresh_pipeline: Pipeline,
) -> None:
    pipeline = fresh_pipeline
    pipeline.start_worker("v1")
    pipeline.start_gateway()
    requests = scenario(20)
    for provider, body in requests:
        assert pipeline.post(provider, body, "application/json").status_code == 200
    messages = keys_of(requests)
    settled = {m: pipeline.wait_view(*m, lambda s: s.get("status") is not None) for m in messages}
    for provider in ("revicom", "fortytwo"):  # every callback applied (a status is only the first)
        pipeline.wait_caught_up(provider)
    before = {m: pipeline.view(*m).json() for m in messages}
    assert before == {m: pipeline.view(*m).json() for m in messages}  # settled
    assert set(before) == set(settled)

    # v2: a fresh app (new tables, new consumer group) that reads live traffic from now on
    v2_group = f"cbsp-v2-{uuid.uuid4().hex[:6]}"
    v2 = pipeline.start_worker("v2", CBSP_WORKER_APP_ID=v2_group, CBSP_WORKER_OFFSET_RESET="latest")
    deadline = time.monotonic() + 60
    while (
        answer := pipeline.view(*messages[0], worker=1)
    ).status_code == 503 and time.monotonic() < deadline:
        time.sleep(0.5)  # still joining the group / recovering
    assert answer.status_code == 404  # ready, and it knows nothing yet
    replay(pipeline)

    rebuilt = {m: pipeline.wait_view(*m, lambda s, m=m: s == before[m], worker=1) for m in messages}
    assert rebuilt == before
    assert v2
    wait_replayed(pipeline, pipeline.group, v2_group)

    state_keys = {f"{p}:{i}".encode() for p, i in messages}
    emitted = len(
        pipeline.consume([pipeline.topics.state_message], keys=state_keys, count=10**6, timeout_s=5)
    )
    replay(pipeline)
    wait_replayed(pipeline, pipeline.group, v2_group)
    assert {m: pipeline.view(*m, worker=1).json() for m in messages} == before
    assert {m: pipeline.view(*m, worker=0).json() for m in messages} == before
    again = len(pipeline.consume([pipeline.topics.state_message], keys=state_keys, count=10**6, timeout_s=5))
    assert again == emitted  # nothing new on state.message.v1

"""Every sample case of every provider through the real gateway, broker and worker.

For each case in tests/data/: the gateway answers as the case says (200, or 400
naming the field with the body kept in callbacks.rejected); the raw records of
the request come back as exactly the canonical Avro events the case lists (found
by their source coordinates, so cases cannot see each other's events); and the
callbacks the normalizer refuses are in callbacks.dlq with the reason.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.providers import REGISTRY as GATEWAY_PROVIDERS
from streams import codecs
from tests.cases import Case, comparable, load_cases
from tests.integration.pipeline import ConsumedRecord, Pipeline

CASES = load_cases()
# the unit runner's received_at: expected times equal to it stand for "the gateway's time"
GATEWAY_TIME = "2026-01-01T00:00:00.000Z"


def raw_records_of(pipeline: Pipeline, case: Case, request_id: str, count: int) -> list[ConsumedRecord]:
    return pipeline.consume(
        [pipeline.topics.raw(case.provider)],
        match=lambda r: r.headers.get("request_id") == request_id.encode(),
        count=count,
        timeout_s=10,
    )


def source_of(record: ConsumedRecord) -> tuple[str, int, int]:
    return (record.topic, record.partition, record.offset)


@pytest.mark.parametrize("case", [c for c in CASES if "rejected" in c.spec], ids=lambda c: c.id)
def test_refused_requests_get_400_and_are_kept(pipeline: Pipeline, case: Case) -> None:
    response = pipeline.post(case.provider, case.body_bytes(), case.content_type)

    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_callback"
    assert case.spec["rejected"]["path"] in response.json()["detail"]
    request_id = response.headers["X-Request-Id"]
    (kept,) = pipeline.consume([pipeline.topics.rejected], keys={request_id.encode()}, count=1, timeout_s=10)
    assert kept.value == case.body_bytes()
    assert case.spec["rejected"]["path"] in kept.headers["error"].decode()
    assert kept.headers["provider"] == case.provider.encode()


@pytest.mark.parametrize("case", [c for c in CASES if "callbacks" in c.spec], ids=lambda c: c.id)
def test_accepted_requests_become_the_canonical_events(pipeline: Pipeline, case: Case) -> None:
    response = pipeline.post(case.provider, case.body_bytes(), case.content_type)

    assert response.status_code == 200, response.text
    kinds = {c["kind"] for c in case.spec["callbacks"]}
    if kinds <= GATEWAY_PROVIDERS[case.provider].empty_reply_kinds:  # e.g. recessmobile: no auto-reply
        assert response.content == b""
    else:
        assert response.json() == {"accepted": len(case.spec["callbacks"])}
    raws = raw_records_of(pipeline, case, response.headers["X-Request-Id"], len(case.spec["callbacks"]))
    assert sorted(r.key or b"" for r in raws) == sorted(
        c["message_key"].encode() for c in case.spec["callbacks"]
    )
    sources = {source_of(r): r for r in raws}
    expected = new_to_the_states(case.spec.get("events", []))
    repeated = len(expected) < len(case.spec.get("events", []))
    if repeated:  # an event the states hold already (this request's, an earlier case's): not emitted
        pipeline.wait_caught_up(case.provider)
    events = pipeline.consume(
        pipeline.topics.events_all(),
        match=lambda r: source_of_event(r) in sources,
        count=len(expected) + (1 if repeated else 0),
        timeout_s=5 if repeated else 20,
    )
    got = [as_case_event(pipeline, e, sources) for e in events]
    assert sorted(got, key=json.dumps) == sorted(expected, key=json.dumps)
    dead = case.spec.get("dead_letter")
    if dead is not None:
        letters = pipeline.consume(
            [pipeline.topics.dlq],
            match=lambda r: (
                (
                    r.headers["source_topic"].decode(),
                    int(r.headers["source_partition"]),
                    int(r.headers["source_offset"]),
                )
                in sources
            ),
            count=1,
        )
        assert len(letters) == 1
        assert dead["path"] in letters[0].headers["error"].decode()


def source_of_event(record: ConsumedRecord) -> tuple[str, int, int]:
    source = codecs.decode_message(record.value or b"")["source"]
    return (source["topic"], source["partition"], source["offset"])


def as_case_event(
    pipeline: Pipeline, record: ConsumedRecord, sources: dict[tuple[str, int, int], ConsumedRecord]
) -> dict[str, object]:
    kind = record.topic.removeprefix(pipeline.prefix).split(".")[1]
    decoded = codecs.decode_message(record.value or b"", record.headers.items())
    raw = sources[source_of_event(record)]
    assert record.key == raw.key
    event = comparable(decoded)
    if event["occurred_at"] == plain_received_at(raw):
        event["occurred_at"] = GATEWAY_TIME
    return {"kind": kind, "record": event}


def plain_received_at(raw: ConsumedRecord) -> str:
    return raw.headers["received_at"].decode()


APPLIED: set[tuple[str, str, str]] = set()  # (message key, kind, event id) posted by this module


def new_to_the_states(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events a worker emits for ``events`` after the cases posted before (the module shares
    one worker, and some samples report the same message): those new to their message's state,
    each once. A duplicate changes no state and emits nothing."""
    kept = []
    for event in events:
        applied = (event["record"]["message_key"], event["kind"], event["record"]["event_id"])
        if applied not in APPLIED:
            APPLIED.add(applied)
            kept.append(event)
    return kept

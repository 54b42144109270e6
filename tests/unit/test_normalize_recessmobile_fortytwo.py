"""RecessMobile and Fortytwo properties the case table cannot show on its own."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from gateway.bodies import FORM, JSON, decode_body
from gateway.providers import REGISTRY
from streams.canonical import RawCallback, SourceRef
from streams.normalize import normalize
from tests.cases import comparable, load_cases

API_KEY = "3f9a1c7e5b2d4e6f8a0b1c2d3e4f5a6b"
TOKEN = "test-token"  # noqa: S105  (a test credential)


def events_of(provider: str, body: bytes, content_type: str) -> list[dict[str, Any]]:
    module = REGISTRY[provider]
    parsed = decode_body(body, content_type, None, module.content_types, provider)
    received = datetime(2026, 1, 1, tzinfo=UTC)
    raws = [
        RawCallback(provider, c.kind, c.message_key, c.payload, received, SourceRef("t", 0, 0))
        for c in module.split(parsed)
    ]
    return [comparable(dict(event.record)) for raw in raws for event in normalize(raw)]


def form(fields: dict[str, str]) -> bytes:
    return urlencode(fields).encode()


def test_form_and_json_of_one_delivery_report_are_one_event() -> None:
    as_form = form(
        {"type": "delivery_report", "api_key": API_KEY, "message_id": "7", "status": "2", "final": "1"}
    )
    as_json = {"type": "delivery_report", "api_key": API_KEY, "message_id": 7, "status": 2, "final": True}
    assert events_of("recessmobile", as_form, FORM) == events_of(
        "recessmobile", json.dumps(as_json).encode(), JSON
    )


def test_form_and_json_of_one_incoming_message_have_one_key_and_event_id() -> None:
    fields = {"type": "incoming_message", "api_key": API_KEY, "phone_number": "79161234567"}
    fields |= {"body": "Да 👍", "sent_at": "2026-03-14T09:26:53Z", "auto_subscribe": "true"}
    as_json = json.dumps({**fields, "auto_subscribe": True}).encode()
    assert events_of("recessmobile", form(fields), FORM) == events_of("recessmobile", as_json, JSON)


def test_another_app_or_another_text_is_another_incoming_message() -> None:
    fields = {
        "type": "incoming_message",
        "api_key": API_KEY,
        "phone_number": "1",
        "body": "a",
        "sent_at": "1",
    }
    keys = {
        events_of("recessmobile", form(changed), FORM)[0]["message_key"]
        for changed in (fields, {**fields, "api_key": "other-app"}, {**fields, "body": "b"})
    }
    assert len(keys) == 3


def test_the_api_key_reaches_no_event() -> None:
    for case in load_cases("recessmobile"):
        for event in case.spec.get("events", []):
            assert API_KEY not in json.dumps(event, ensure_ascii=False), case.id
    got = events_of(
        "recessmobile",
        form(
            {"type": "incoming_message", "api_key": API_KEY, "phone_number": "1", "body": "x", "sent_at": "1"}
        ),
        FORM,
    )
    assert got and API_KEY not in json.dumps(got, default=str)


def test_a_retried_fortytwo_reply_is_the_same_event() -> None:
    reply = {
        "api_job_id": "j",
        "reply_message_id": "r1",
        "channel": "VIBER",
        "timestamp": 1773480413,
        "from": "35699123456",
        "to": "Fortytwo",
        "message": {"text": "ok"},
    }
    first = events_of("fortytwo", json.dumps({**reply, "req_uuid": "req-attempt-1"}).encode(), JSON)
    retry = events_of("fortytwo", json.dumps({**reply, "req_uuid": "req-attempt-2"}).encode(), JSON)
    assert first == retry
    assert "req-attempt-1" not in json.dumps(first)


def test_a_fortytwo_report_record_carries_its_bundle_fields() -> None:
    bundle = {
        "api_job_id": "job-1",
        "client_job_id": "mine",
        "data": [{"message_id": "m1", "status": "DELIVRD"}],
    }
    [callback] = REGISTRY["fortytwo"].split(bundle)
    assert dict(callback.payload) == {
        "api_job_id": "job-1",
        "client_job_id": "mine",
        "message_id": "m1",
        "status": "DELIVRD",
    }

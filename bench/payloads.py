"""Realistic provider requests with unique message ids, for load."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlencode

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Request:
    provider: str
    content_type: str
    body: bytes
    callbacks: int


def revicom_batch(i: int) -> Request:
    uuid = f"00000000-bench-{i:012d}"
    common = {
        "message_uuid": uuid,
        "channel_type": "SMS",
        "cascade_message_uuid": f"c-{i // 3}",
        "cascade_step": 1,
    }
    items = [
        {**common, "callback_event": "sent", "status": "sent", "status_time": "2026-11-26T10:00:00Z"},
        {
            **common,
            "callback_event": "delivered",
            "status": "delivered",
            "status_time": "2026-11-26T10:00:03Z",
        },
        {
            **common,
            "callback_event": "price",
            "parts": 1,
            "price": 0.0123,
            "currency": "EUR",
            "price_time": "2026-11-26T10:00:04Z",
        },
    ]
    return Request("revicom", JSON, json.dumps(items).encode(), 3)


def revicom_single(i: int) -> Request:
    item = {
        "message_uuid": f"00000000-single-{i:012d}",
        "channel_type": "WHATSAPP",
        "callback_event": "read",
        "status": "read",
        "status_time": "2026-11-26T10:01:00Z",
    }
    return Request("revicom", JSON, json.dumps([item]).encode(), 1)


def fortytwo_bundle(i: int) -> Request:
    reports = [
        {
            "message_id": f"ft-{i}-{n}",
            "type": "SMS",
            "status": status,
            "timestamp": 1764151200,
            "micro_timestamp": 1764151200000 + n,
            "error_code": 0,
        }
        for n, status in enumerate(("ACCEPTD", "DELIVRD"))
    ]
    body = {"api_job_id": f"job-{i}", "client_job_id": "bench", "data": reports}
    return Request("fortytwo", JSON, json.dumps(body).encode(), 2)


def edna_status(i: int) -> Request:
    body = {
        "imOutMessageId": 10_000_000 + i,
        "dlvStatus": "delivered",
        "dlvStatusAt": "2026-11-26T13:00:00.355+0300",
        "dlvError": None,
    }
    return Request("edna", JSON, json.dumps(body).encode(), 1)


def recessmobile_report(i: int) -> Request:
    fields = {
        "type": "delivery_report",
        "api_key": "bench-key",
        "message_id": f"rm-{i}",
        "status": "1",
        "final": "true",
    }
    return Request("recessmobile", FORM, urlencode(fields).encode(), 1)


MIX = (revicom_batch, revicom_single, fortytwo_bundle, edna_status, recessmobile_report)


def requests(start: int = 0) -> Iterator[Request]:
    """An endless realistic mix: single callbacks and batches of all four providers."""
    i = start
    while True:
        yield MIX[i % len(MIX)](i)
        i += 1

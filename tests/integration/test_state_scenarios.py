"""Out-of-order and duplicate callbacks through the real pipeline (gateway -> raw topic ->
worker): the table view ends in the expected state, and state.message.v1 carries one record
per real change and none for a duplicate."""

from __future__ import annotations

import json
import uuid
from typing import Any

import requests

from streams import codecs
from tests.cases import load_cases
from tests.integration.groundtruth import T, item
from tests.integration.pipeline import Pipeline


def post(pipeline: Pipeline, *items: dict[str, Any]) -> None:
    """Each item in its own request, in this order (the order the worker sees them)."""
    for one in items:
        response = pipeline.post("revicom", json.dumps([one]).encode(), "application/json")
        assert response.status_code == 200, response.text


def final_state(pipeline: Pipeline, message_uuid: str, event_count: int) -> Any:
    return pipeline.wait_view("revicom", message_uuid, lambda s: s["event_count"] == event_count)


def emitted_counts(pipeline: Pipeline, message_uuid: str, count: int) -> list[int]:
    """The event_count of every MessageState record of the message on state.message.v1."""
    key = f"revicom:{message_uuid}".encode()
    records = pipeline.consume([pipeline.topics.state_message], keys={key}, count=count)
    assert all(r.headers["schema"] == b"cbsp.MessageState" for r in records)
    return [codecs.decode_message(r.value or b"", r.headers.items())["event_count"] for r in records]


def new_id() -> str:
    return str(uuid.uuid4())


def test_a_late_sent_never_undoes_delivered(pipeline: Pipeline) -> None:
    message = new_id()
    post(pipeline, item(message, "delivered", 5), item(message, "sent", 1))

    state = final_state(pipeline, message, 2)

    assert (state["status"]["status"], state["status"]["at"]) == ("DELIVERED", T.format(5)[:-1] + ".000Z")
    assert (state["first_event_at"], state["last_event_at"]) == (
        "2024-03-01T10:00:01.000Z",
        "2024-03-01T10:00:05.000Z",
    )
    assert state["conflict"] is False


def test_a_double_delivered_is_applied_once_and_emitted_once(pipeline: Pipeline) -> None:
    message = new_id()
    post(
        pipeline,
        item(message, "delivered", 5),
        item(message, "delivered", 5),
        item(message, "click", 7, short_url="s.io/a"),
    )

    state = final_state(pipeline, message, 2)  # the delivered once, the click

    assert state["status"]["status"] == "DELIVERED"
    assert emitted_counts(pipeline, message, count=2) == [1, 2]  # nothing for the duplicate


def test_read_before_delivered_ends_read(pipeline: Pipeline) -> None:
    message = new_id()
    post(pipeline, item(message, "read", 9), item(message, "delivered", 5))

    state = final_state(pipeline, message, 2)

    assert (state["status"]["status"], state["read_state"], state["conflict"]) == ("READ", "READ", False)


def test_a_price_changed_twice_arriving_in_reverse_ends_at_the_last_price(pipeline: Pipeline) -> None:
    message = new_id()
    prices = [
        item(message, "price", second, price=price) for second, price in ((3, 0.07), (2, 0.06), (1, 0.05))
    ]
    post(pipeline, *prices)

    state = final_state(pipeline, message, 3)

    assert state["price"]["amount"] == "0.070000"
    assert (state["price"]["currency"], state["price"]["at"]) == ("EUR", "2024-03-01T10:00:03.000Z")


def test_the_same_click_three_times_counts_once(pipeline: Pipeline) -> None:
    message = new_id()
    click = item(message, "click", 4, short_url="s.io/a")
    post(pipeline, click, click, click, item(message, "delivered", 2))

    state = final_state(pipeline, message, 2)

    assert (state["click_count"], state["short_urls"]) == (1, ["s.io/a"])
    assert state["last_click_at"] == "2024-03-01T10:00:04.000Z"
    assert emitted_counts(pipeline, message, count=2) == [1, 2]


def test_read_after_a_failure_upgrades_it_and_records_a_conflict(pipeline: Pipeline) -> None:
    message = new_id()
    post(
        pipeline, item(message, "delivered", 1, status="undelivered", error_code=34), item(message, "read", 8)
    )

    state = final_state(pipeline, message, 2)

    assert (state["status"]["status"], state["conflict"]) == ("READ", True)


def test_fortytwo_internal_phase_does_not_hide_the_real_channel(pipeline: Pipeline) -> None:
    (case,) = [c for c in load_cases("fortytwo") if c.path.stem == "report_batch_accepted_delivered"]
    message = new_id()
    body = case.spec["body"]
    reports = [
        {**report, "message_id": message}
        for report in body["data"]
        if report["message_id"] == body["data"][0]["message_id"]
    ]
    for report in reversed(reports):  # the real channel's report first, the INTERNAL one late
        bundle = json.dumps({**body, "data": [report]}).encode()
        assert pipeline.post("fortytwo", bundle, "application/json").status_code == 200

    state = pipeline.wait_view("fortytwo", message, lambda s: s["event_count"] == 2)

    assert (state["channel"], state["status"]["status"]) == ("SMS", "DELIVERED")


def test_an_inbound_is_counted_in_its_own_key(pipeline: Pipeline) -> None:
    (case,) = [c for c in load_cases("revicom") if c.path.stem == "inbound"]
    message = new_id()
    (inbound,) = case.spec["body"]
    inbound = {**inbound, "message_uuid": message, "item": {**inbound["item"], "messageUuid": message}}
    assert (
        pipeline.post("revicom", json.dumps([inbound, inbound]).encode(), "application/json").status_code
        == 200
    )

    state = pipeline.wait_view("revicom", message, lambda s: s["inbound_count"] == 1)

    assert (state["status"], state["click_count"], state["event_count"]) == (None, 0, 1)


def test_a_cascade_totals_its_members_per_currency_and_shows_each_step(pipeline: Pipeline) -> None:
    cascade, first, second = new_id(), new_id(), new_id()
    on = {"cascade_message_uuid": cascade}
    post(
        pipeline,
        item(first, "delivered", 1, status="undelivered", cascade_step=1, **on),
        item(first, "price", 2, price=0.05, cascade_step=1, **on),
        item(second, "delivered", 4, cascade_step=2, **on),
        item(second, "price", 4, price=0.03, cascade_step=2, **on),
        item(first, "price", 3, price=0.04, cascade_step=1, **on),  # the first's price changed
    )
    final_state(pipeline, first, 3)

    view = wait_cascade(pipeline, cascade, lambda c: c["totals"] == {"EUR": "0.070000"})

    assert [(s["step"], s["status"], s["price"]["amount"]) for s in view["steps"]] == [
        (1, "UNDELIVERED", "0.040000"),
        (2, "DELIVERED", "0.030000"),
    ]
    assert (view["cascade_key"], view["message_count"]) == (f"revicom:{cascade}", 2)


def test_an_unknown_cascade_is_a_json_404(pipeline: Pipeline) -> None:
    response = requests.get(f"{pipeline.worker_urls[0]}/cascades/revicom/no-such-cascade", timeout=10)

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def wait_cascade(pipeline: Pipeline, cascade_id: str, predicate: Any, timeout_s: float = 30) -> Any:
    import time

    deadline, last = time.monotonic() + timeout_s, None
    while time.monotonic() < deadline:
        response = requests.get(f"{pipeline.worker_urls[0]}/cascades/revicom/{cascade_id}", timeout=10)
        if response.status_code == 200:
            last = response.json()
            if predicate(last):
                return last
        time.sleep(0.2)
    raise AssertionError(f"cascade {cascade_id} never matched; last: {last}")

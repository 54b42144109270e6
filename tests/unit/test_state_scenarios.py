"""The merge rules on the cases support asks about, one by one, in the orders that hurt."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from itertools import permutations

import pytest

from streams.canonical import CanonicalEvent
from tests.unit.test_state import event, record_of


def every_order(*events: CanonicalEvent) -> list[list[CanonicalEvent]]:
    return [list(order) for order in permutations(events)]


@pytest.mark.parametrize(
    "order", every_order(event("status", "s", 0), event("status", "d", 5, status="DELIVERED"))
)
def test_a_late_sent_never_undoes_delivered(order: list[CanonicalEvent]) -> None:
    record = record_of(order)
    assert record["status"]["status"] == "DELIVERED"
    assert record["event_count"] == 2
    assert not record["conflict"]


@pytest.mark.parametrize(
    "order",
    every_order(event("status", "f", 0, status="FAILED"), event("status", "r", 9, status="READ")),
)
def test_read_after_a_failure_upgrades_it_and_is_a_conflict(order: list[CanonicalEvent]) -> None:
    record = record_of(order)
    assert record["status"]["status"] == "READ"
    assert record["read_state"] == "READ"
    assert record["conflict"]


def test_two_different_finals_of_equal_rank_are_a_conflict_and_the_earlier_wins() -> None:
    record = record_of([event("status", "b", 7, status="EXPIRED"), event("status", "a", 3, status="FAILED")])
    assert record["status"]["status"] == "FAILED"
    assert record["conflict"]


def test_at_equal_rank_and_time_the_smaller_event_id_wins() -> None:
    record = record_of(
        [event("status", "b2", 3, status="EXPIRED"), event("status", "a9", 3, status="EXPIRED")]
    )
    assert record["status"]["event_id"] == "a9"
    assert not record["conflict"]  # the same final twice is no disagreement


def test_a_final_below_rank_40_is_kept_as_the_provider_said() -> None:
    record = record_of(
        [event("status", "p", 0, status="PENDING"), event("status", "u", 1, status="UNKNOWN", is_final=True)]
    )
    assert (record["status"]["status"], record["status"]["rank"], record["status"]["is_final"]) == (
        "UNKNOWN",
        30,
        True,
    )


def test_unread_alone_leaves_the_status_and_read_wins_over_it() -> None:
    unread = event("status", "u", 2, status=None, read_state="UNREAD")
    assert record_of([event("status", "d", 1, status="DELIVERED"), unread])["read_state"] == "UNREAD"
    record = record_of(
        [unread, event("status", "r", 1, status="READ"), event("status", "d", 0, status="DELIVERED")]
    )
    assert (record["status"]["status"], record["read_state"]) == ("READ", "READ")


@pytest.mark.parametrize(
    "order",
    every_order(
        event("price", "p1", 1, price=Decimal("0.050000"), currency="EUR", parts=1),
        event("price", "p2", 2, price=Decimal("0.070000"), currency="EUR", parts=2),
    ),
)
def test_the_price_with_the_latest_price_time_wins(order: list[CanonicalEvent]) -> None:
    price = record_of(order)["price"]
    assert (price["amount"], price["parts"], price["event_id"]) == (Decimal("0.070000"), 2, "p2")
    assert price["at"] == datetime(2024, 3, 1, 10, 0, 2, tzinfo=UTC)


def test_the_same_click_three_times_counts_once_and_distinct_clicks_count_each() -> None:
    click = event("click", "c1", 5, short_url="s.io/a")
    assert record_of([click, click, click])["click_count"] == 1
    record = record_of(
        [click, event("click", "c2", 9, short_url="s.io/a"), event("click", "c3", 7, short_url="s.io/b")]
    )
    assert (record["click_count"], record["short_urls"]) == (3, ["s.io/a", "s.io/b"])
    assert record["last_click_at"] == datetime(2024, 3, 1, 10, 0, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    "order",
    every_order(
        event("status", "i", 0, channel="INTERNAL"),
        event("status", "v", 5, status="DELIVERED", channel="VIBER"),
    ),
)
def test_fortytwo_internal_phase_never_overwrites_a_real_channel(order: list[CanonicalEvent]) -> None:
    assert record_of(order)["channel"] == "VIBER"


def test_internal_is_the_channel_while_no_other_is_known() -> None:
    assert record_of([event("status", "i", 0, channel="INTERNAL")])["channel"] == "INTERNAL"


def test_inbound_events_are_counted_in_their_own_key() -> None:
    record = record_of([event("inbound", "in1", 3), event("inbound", "in2", 1), event("inbound", "in1", 3)])
    assert (record["inbound_count"], record["status"], record["event_count"]) == (2, None, 2)
    assert record["first_event_at"] == datetime(2024, 3, 1, 10, 0, 1, tzinfo=UTC)
    assert record["last_event_at"] == datetime(2024, 3, 1, 10, 0, 3, tzinfo=UTC)


def test_cascade_comes_from_the_latest_event_that_names_one() -> None:
    record = record_of(
        [event("status", "a", 1, cascade_id="c-1", cascade_step=2), event("click", "b", 4, short_url="x")]
    )
    assert (record["cascade_id"], record["cascade_step"]) == ("c-1", 2)

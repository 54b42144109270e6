"""Cascade merge rules: member states in any order, with duplicates and stale copies, give
the same cascade; totals are per currency over the members' latest prices."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from streams import cascade, staterecords
from streams.canonical import CanonicalEvent
from streams.state import MessageState, apply
from tests.unit.test_state import event


def member_event(message: str, kind: str, event_id: str, at: int, **fields: Any) -> CanonicalEvent:
    made = event(kind, event_id, at, cascade_id="c-9", cascade_step=int(message[-1]), **fields)
    key = f"revicom:{message}"
    return CanonicalEvent(made.kind, {**made.record, "message_key": key, "provider_message_id": message})


def history(events: list[CanonicalEvent]) -> list[dict[str, Any]]:
    """Every MessageState record a worker emits while applying ``events`` in this order."""
    records: list[dict[str, Any]] = []
    states: dict[str, MessageState] = {}
    for item in events:
        new = apply(states.get(item.message_key), item)
        if new is not None:
            states[item.message_key] = new
            records.append(staterecords.to_record(new))
    return records


def fold(records: list[dict[str, Any]]) -> cascade.CascadeState | None:
    state = None
    for record in records:
        state = cascade.add_member(state, record) or state
    return state


EVENTS = [
    member_event("m1", "status", "a", 0, status="UNDELIVERED"),
    member_event("m1", "price", "b", 1, price=Decimal("0.040000"), currency="EUR"),
    member_event("m1", "price", "c", 2, price=Decimal("0.030000"), currency="EUR"),
    member_event("m2", "status", "d", 3, status="DELIVERED"),
    member_event("m2", "price", "e", 3, price=Decimal("0.010000"), currency="EUR"),
    member_event("m3", "price", "f", 4, price=Decimal("0.500000"), currency="USD"),
]


def test_totals_per_currency_and_statuses_per_step() -> None:
    state = fold(history(EVENTS))
    assert state is not None
    assert cascade.totals(state) == {"EUR": Decimal("0.040000"), "USD": Decimal("0.500000")}
    view = cascade.render(state)
    assert view["totals"] == {"EUR": "0.040000", "USD": "0.500000"}
    assert [(s["step"], s["status"]) for s in view["steps"]] == [
        (1, "UNDELIVERED"),
        (2, "DELIVERED"),
        (3, None),
    ]
    assert view["steps"][0]["price"] == {"amount": "0.030000", "currency": "EUR"}
    assert view["cascade_key"] == "revicom:c-9"


@settings(max_examples=300, deadline=None)
@given(st.permutations(EVENTS), st.data())
def test_member_states_in_any_order_with_duplicates_give_the_same_cascade(
    order: list[CanonicalEvent], data: st.DataObject
) -> None:
    records = history(order)
    again = data.draw(st.lists(st.sampled_from(records), max_size=6))
    arrival = data.draw(st.permutations(records + again))
    assert fold(arrival) == fold(history(EVENTS))


def test_an_older_or_equal_member_state_changes_nothing() -> None:
    records = history(EVENTS)
    state = fold(records)
    for record in records:
        assert cascade.add_member(state, record) is None


def test_the_table_value_round_trips() -> None:
    state = fold(history(EVENTS))
    assert state is not None
    assert cascade.from_json(cascade.to_json(state)) == state

"""Merge rules: the state of a message is a function of the set of its distinct events.

Hypothesis draws event sets with many ties (equal times, equal ranks), applies them in
random orders with random duplicates, and compares with a reference computation written
the straightforward way: one pass over the distinct events per field.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from streams import staterecords
from streams.canonical import FINAL_RANK, STATUS_RANKS, CanonicalEvent
from streams.state import MessageState, apply, merge

KEY = "revicom:m-1"
T0 = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
FAILURES = {status for status, rank in STATUS_RANKS.items() if rank == FINAL_RANK}


def event(kind: str, event_id: str, at: int, **fields: Any) -> CanonicalEvent:
    record = {
        "event_id": event_id,
        "message_key": KEY,
        "provider": "revicom",
        "provider_message_id": "m-1",
        "channel": None,
        "cascade_id": None,
        "cascade_step": None,
        "occurred_at": T0 + timedelta(seconds=at),
        "received_at": T0,
        "source": {"topic": "t", "partition": 0, "offset": 0},
    }
    if kind == "status":
        status = fields.pop("status", "SENT")
        rank = None if status is None else STATUS_RANKS[status]
        record |= {
            "status": status,
            "status_rank": rank,
            "is_final": fields.pop("is_final", rank is not None and rank >= FINAL_RANK),
            "provider_status": str(status).lower(),
            "error_code": None,
            "read_state": "READ" if status == "READ" else None,
        }
    return CanonicalEvent(kind, record | fields)


def fold(events: Iterable[CanonicalEvent]) -> MessageState | None:
    state = None
    for item in events:
        state = apply(state, item) or state
    return state


def record_of(events: Iterable[CanonicalEvent]) -> dict[str, Any]:
    state = fold(events)
    assert state is not None
    return staterecords.to_record(state)


# -- the reference ---------------------------------------------------------------


def reference(events: Iterable[CanonicalEvent]) -> dict[str, Any]:
    """The expected MessageState record, field by field, over the distinct events."""
    distinct = list({e.event_id: e for e in events}.values())
    recs = [e.record for e in distinct]
    statuses = [r for e, r in zip(distinct, recs, strict=True) if e.kind == "status" and r["status"]]
    prices = [e.record for e in distinct if e.kind == "price"]
    clicks = [e.record for e in distinct if e.kind == "click"]
    status = min(statuses, key=lambda r: (-r["status_rank"], r["occurred_at"], r["event_id"]), default=None)
    price = max(prices, key=lambda r: (r["occurred_at"], r["event_id"]), default=None)
    cascade = max(
        (r for r in recs if r["cascade_id"]), key=lambda r: (r["occurred_at"], r["event_id"]), default=None
    )
    return {
        "message_key": KEY,
        "provider": "revicom",
        "provider_message_id": "m-1",
        "status": None if status is None else _status(status),
        "read_state": _read_state(recs),
        "channel": _channel(recs),
        "cascade_id": cascade["cascade_id"] if cascade else None,
        "cascade_step": cascade["cascade_step"] if cascade else None,
        "price": None if price is None else _price(price),
        "click_count": len(clicks),
        "short_urls": sorted({r["short_url"] for r in clicks}),
        "last_click_at": max((r["occurred_at"] for r in clicks), default=None),
        "inbound_count": sum(1 for e in distinct if e.kind == "inbound"),
        "first_event_at": min(r["occurred_at"] for r in recs),
        "last_event_at": max(r["occurred_at"] for r in recs),
        "event_count": len(distinct),
        "conflict": _conflict(statuses),
    }


def _status(r: dict[str, Any]) -> dict[str, Any]:
    keys = ("status", "is_final", "provider_status", "error_code", "event_id")
    return {"rank": r["status_rank"], "at": r["occurred_at"], **{k: r[k] for k in keys}}


def _price(r: dict[str, Any]) -> dict[str, Any]:
    keys = ("currency", "parts", "event_id")
    return {"amount": r["price"], "at": r["occurred_at"], **{k: r[k] for k in keys}}


def _read_state(recs: list[dict[str, Any]]) -> str | None:
    said = {r.get("read_state") for r in recs} | {"READ" for r in recs if r.get("status") == "READ"}
    return "READ" if "READ" in said else "UNREAD" if "UNREAD" in said else None


def _channel(recs: list[dict[str, Any]]) -> str | None:
    named = [r for r in recs if r["channel"]]
    real = [r for r in named if r["channel"] != "INTERNAL"] or named
    latest = max(real, key=lambda r: (r["occurred_at"], r["event_id"]), default=None)
    return latest["channel"] if latest else None


def _conflict(statuses: list[dict[str, Any]]) -> bool:
    for a in statuses:
        for b in statuses:
            if a["status"] in FAILURES and b["status_rank"] >= STATUS_RANKS["DELIVERED"]:
                return True
            finals = a["is_final"] and b["is_final"]
            if finals and a["status_rank"] == b["status_rank"] and a["status"] != b["status"]:
                return True
    return False


# -- strategies ------------------------------------------------------------------

AT = st.integers(0, 4)  # few distinct times: many ties
STATUSES = st.sampled_from([*STATUS_RANKS, None])


@st.composite
def an_event(draw: st.DrawFn, event_id: str) -> CanonicalEvent:
    kind = draw(st.sampled_from(["status", "status", "price", "click", "inbound"]))
    fields: dict[str, Any] = {
        "channel": draw(st.sampled_from([None, "SMS", "VIBER", "INTERNAL"])),
        "cascade_id": draw(st.sampled_from([None, None, "c-1", "c-2"])),
    }
    fields["cascade_step"] = draw(st.integers(1, 3)) if fields["cascade_id"] else None
    if kind == "status":
        status = draw(STATUSES)
        fields["status"] = status
        rank = STATUS_RANKS.get(status or "", 0)
        fields["is_final"] = status is not None and (rank >= FINAL_RANK or draw(st.booleans()))
        if status is None:
            fields["read_state"] = "UNREAD"
    elif kind == "price":
        cents = draw(st.integers(0, 500))
        fields |= {"price": Decimal(cents).scaleb(-2).quantize(Decimal("0.000001"))}
        fields |= {
            "currency": draw(st.sampled_from(["EUR", "USD"])),
            "parts": draw(st.sampled_from([None, 1])),
        }
    elif kind == "click":
        fields["short_url"] = draw(st.sampled_from(["s.io/a", "s.io/b"]))
    return event(kind, event_id, draw(AT), **fields)


@st.composite
def event_sets(draw: st.DrawFn, min_size: int = 1) -> list[CanonicalEvent]:
    ids = draw(
        st.lists(
            st.text("0123456789abcdef", min_size=1, max_size=3), min_size=min_size, max_size=12, unique=True
        )
    )
    return [draw(an_event(event_id)) for event_id in ids]


@st.composite
def arrivals(draw: st.DrawFn) -> tuple[list[CanonicalEvent], list[CanonicalEvent]]:
    """An event set and one arrival order of it: a permutation with random duplicates."""
    events = draw(event_sets())
    duplicates = draw(st.lists(st.sampled_from(events), max_size=8))
    return events, draw(st.permutations(events + duplicates))


# -- properties ------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(arrivals())
def test_any_order_with_any_duplicates_gives_the_reference_state(drawn: Any) -> None:
    events, arrival = drawn
    assert record_of(arrival) == reference(events)


@settings(max_examples=200, deadline=None)
@given(arrivals(), st.data())
def test_an_event_applied_again_at_any_later_time_changes_nothing(drawn: Any, data: st.DataObject) -> None:
    _, arrival = drawn
    state = fold(arrival)
    again = data.draw(st.sampled_from(arrival))
    assert apply(state, again) is None


@settings(max_examples=200, deadline=None)
@given(event_sets(min_size=3), st.data())
def test_merge_is_a_join(events: list[CanonicalEvent], data: st.DataObject) -> None:
    """Three overlapping subsets of one event set (an event id stands for one content)."""
    subsets = [data.draw(st.lists(st.sampled_from(events), min_size=1)) for _ in range(3)]
    sa, sb, sc = (fold(subset) for subset in subsets)
    assert sa is not None and sb is not None and sc is not None
    assert merge(sa, sb) == merge(sb, sa)
    assert merge(merge(sa, sb), sc) == merge(sa, merge(sb, sc))
    assert merge(sa, sa) == sa
    assert merge(sa, sb) == fold(subsets[0] + subsets[1])


@settings(max_examples=200, deadline=None)
@given(event_sets())
def test_the_table_value_round_trips(events: list[CanonicalEvent]) -> None:
    state = fold(events)
    assert state is not None
    assert staterecords.from_json(staterecords.to_json(state)) == state


@settings(max_examples=100, deadline=None)
@given(event_sets())
def test_every_state_fits_the_avro_schema(events: list[CanonicalEvent]) -> None:
    from streams import codecs

    state = fold(events)
    assert state is not None
    record = staterecords.to_record(state)
    assert codecs.decode(codecs.encode("MessageState", record)) == ("cbsp.MessageState", record)

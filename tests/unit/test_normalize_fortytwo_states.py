"""Every Fortytwo state keeps its meaning in the canonical status; the raw state stays in
``provider_status`` (shared/providers/fortytwo.md: the SMPP v3.4 states plus SEEN)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from streams import state
from streams.canonical import STATUS_RANKS, CanonicalEvent, NormalizeOptions, RawCallback, SourceRef
from streams.normalize import fortytwo

# provider state -> (status, rank, is_final, read_state)
EXPECTED = {
    "ACCEPTD": ("SENT", 20, False, None),
    "UNKNOWN": ("UNKNOWN", 30, False, None),
    "REJECTD": ("REJECTED", 40, True, None),
    "UNDELIV": ("UNDELIVERED", 40, True, None),
    "EXPIRED": ("EXPIRED", 40, True, None),
    "DELETED": ("CANCELLED", 40, True, None),
    "DELIVRD": ("DELIVERED", 50, True, None),
    "SEEN": ("READ", 60, True, "READ"),
}


def report(provider_status: str, message_id: str = "m1", millis: int = 1773480413001) -> CanonicalEvent:
    payload = {
        "api_job_id": "job-1",
        "type": "SMS",
        "message_id": message_id,
        "status": provider_status,
        "micro_timestamp": millis,
        "error_code": 0,
    }
    received = datetime(2026, 3, 14, tzinfo=UTC)
    raw = RawCallback("fortytwo", "status", f"fortytwo:{message_id}", payload, received, SourceRef("t", 0, 0))
    (event,) = fortytwo.normalize(raw, NormalizeOptions())
    return event


def status_part(record: Any) -> tuple[object, ...]:
    return (record["status"], record["status_rank"], record["is_final"], record["read_state"])


def test_every_state_the_normalizer_knows_is_in_this_table() -> None:
    assert set(fortytwo.STATUSES) == set(EXPECTED)
    assert {status for status, *_ in EXPECTED.values()} <= set(STATUS_RANKS)


@pytest.mark.parametrize("provider_status", sorted(EXPECTED))
def test_each_state_becomes_its_canonical_status_and_keeps_the_raw_one(provider_status: str) -> None:
    record = report(provider_status).record

    assert status_part(record) == EXPECTED[provider_status]
    assert record["provider_status"] == provider_status


@pytest.mark.parametrize("provider_status", ["undeliv", "Deleted"])
def test_the_state_is_read_in_any_case_and_kept_as_written(provider_status: str) -> None:
    record = report(provider_status).record

    assert status_part(record) == EXPECTED[provider_status.upper()]
    assert record["provider_status"] == provider_status


def test_an_undocumented_state_is_unknown_and_kept() -> None:
    record = report("ENROUTE").record

    assert status_part(record) == ("UNKNOWN", 30, False, None)
    assert record["provider_status"] == "ENROUTE"


@pytest.mark.parametrize("provider_status", ["REJECTD", "UNDELIV", "EXPIRED", "DELETED"])
def test_a_failure_state_is_the_final_status_of_its_message(provider_status: str) -> None:
    held = None
    for event in (
        report("ACCEPTD", millis=1),
        report(provider_status, millis=2),
        report("ACCEPTD", millis=3),
    ):
        held = state.apply(held, event) or held

    assert held is not None and held.status is not None
    assert (held.status.status, held.status.provider_status) == (
        EXPECTED[provider_status][0],
        provider_status,
    )
    assert (held.status.is_final, held.conflict) == (True, False)


def test_two_different_failure_states_of_one_message_are_a_conflict() -> None:
    """They were both FAILED before issue 19, and no conflict; now two finals of equal rank."""
    held = state.apply(None, report("REJECTD", millis=1))
    held = state.apply(held, report("EXPIRED", millis=2))

    assert held is not None and held.status is not None
    assert (held.status.status, held.conflict) == ("REJECTED", True)  # the earlier of equal rank

"""The per-message state and its merge rules, as pure functions.

A state is a JSON-able dict (times as epoch milliseconds) so that it can live in a
Faust table as it is. :func:`apply` returns the new state, or ``None`` when the
event changes nothing (a duplicate, or a status that loses to the one held).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from streams.canonical import CanonicalEvent

State = dict[str, Any]


def millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def status_wins(candidate: Mapping[str, Any], held: Mapping[str, Any] | None) -> bool:
    """Higher rank wins; at equal rank the earlier provider time, then the smaller event_id."""
    if held is None:
        return True
    return (-candidate["rank"], candidate["at"], candidate["event_id"]) < (
        -held["rank"],
        held["at"],
        held["event_id"],
    )


def apply(state: State | None, event: CanonicalEvent) -> State | None:
    """The state after ``event``, or None if the event changes nothing."""
    record = event.record
    new = dict(state) if state is not None else _empty(record)
    occurred = millis(record["occurred_at"])
    new["first_event_at"] = min(new["first_event_at"] or occurred, occurred)
    new["last_event_at"] = max(new["last_event_at"] or occurred, occurred)
    for key in ("channel", "cascade_id", "cascade_step"):
        if new[key] is None and record.get(key) is not None:
            new[key] = record[key]
    if event.kind == "status" and record["status"] is not None:
        candidate = {
            "status": record["status"],
            "rank": record["status_rank"],
            "is_final": record["is_final"],
            "provider_status": record["provider_status"],
            "error_code": record["error_code"],
            "at": occurred,
            "event_id": record["event_id"],
        }
        if status_wins(candidate, new["status"]):
            new["status"] = candidate
    return None if new == state else new


def _empty(record: Mapping[str, Any]) -> State:
    return {
        "message_key": record["message_key"],
        "provider": record["provider"],
        "provider_message_id": record["provider_message_id"],
        "channel": None,
        "cascade_id": None,
        "cascade_step": None,
        "status": None,
        "first_event_at": None,
        "last_event_at": None,
    }

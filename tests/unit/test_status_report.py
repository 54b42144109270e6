"""The status page's numbers: a worker's recent activity, and the group's sums of the parts."""

from __future__ import annotations

from schemas.topicnames import TopicNames
from streams import staterecords
from streams.state import MessageState, StatusPick
from streams.status import report, snapshot
from streams.status.activity import DEAD_LETTERS_KEPT, Activity, DeadLetter

NOW = 1_800_000_000.0  # exactly at the start of a minute


def dead_letter(at: float, provider: str = "edna") -> DeadLetter:
    return DeadLetter(at, provider, f"{provider}:m", "NormalizeError: status: missing", "raw", 0, int(at))


def test_callbacks_are_counted_per_minute_of_their_timestamp_within_the_hour() -> None:
    activity = Activity(clock=lambda: NOW)
    for timestamp in (NOW, NOW - 1, NOW - 120, NOW - 3600, NOW - 7200):
        activity.count_callback("revicom", timestamp)

    minute = int(NOW // 60)
    # the ones an hour old and older are left out
    assert activity.report()["callbacks"]["revicom"] == {
        str(minute - 2): 1,
        str(minute - 1): 1,
        str(minute): 1,
    }


def test_only_the_latest_dead_letters_are_kept_newest_first_but_all_are_counted() -> None:
    activity = Activity(clock=lambda: NOW)
    for i in range(DEAD_LETTERS_KEPT + 5):
        activity.count_dead_letter(dead_letter(NOW + i))

    reported = activity.report()

    assert reported["dead_letters"] == {"edna": DEAD_LETTERS_KEPT + 5}
    assert [d["at"] for d in reported["recent_dead_letters"]][:2] == [
        NOW + DEAD_LETTERS_KEPT + 4,
        NOW + DEAD_LETTERS_KEPT + 3,
    ]
    assert len(reported["recent_dead_letters"]) == DEAD_LETTERS_KEPT


def state(provider: str, status: str | None) -> bytes:
    pick = None if status is None else StatusPick(status, 0, False, status.lower(), None, 0, "id")
    return staterecords.to_json(MessageState(f"{provider}:m", provider, "m", 0, 0, status=pick))


def test_message_states_are_grouped_into_delivered_failed_and_pending() -> None:
    states = [state("revicom", s) for s in ("READ", "DELIVERED", "UNDELIVERED", "EXPIRED", "SENT", None)]

    assert snapshot.outcomes(states) == {"revicom": {"delivered": 2, "failed": 2, "pending": 2}}


def part(worker: str, minute_counts: dict[str, int], outcomes: dict[str, int], lag: int) -> dict:
    activity = Activity(clock=lambda: NOW)
    activity.count_dead_letter(dead_letter(NOW - int(worker[-1])))
    return {
        "worker": worker,
        **activity.report(),
        "callbacks": {"revicom": minute_counts},
        "outcomes": {"revicom": outcomes},
        "lag": [{"topic": "p.callbacks.raw.revicom", "partition": int(worker[-1]), "lag": lag}],
        "rebalancing": False,
    }


def test_the_group_is_the_sum_of_the_workers_parts() -> None:
    minute = int(NOW // 60)
    parts = [
        part(
            "http://w1", {str(minute): 3, str(minute - 59): 1}, {"delivered": 2, "failed": 1, "pending": 0}, 4
        ),
        part(
            "http://w2", {str(minute): 2, str(minute - 60): 9}, {"delivered": 1, "failed": 0, "pending": 5}, 1
        ),
    ]

    status = report.merge(parts, {"http://w3": "did not answer: TimeoutError"}, TopicNames("p."), now=NOW)

    revicom = status["providers"]["revicom"]
    assert revicom["per_minute"][-1] == 5 and revicom["per_minute"][0] == 1  # minute - 60 is out
    assert revicom["callbacks_last_hour"] == 6
    assert revicom["outcomes"] == {"delivered": 3, "failed": 1, "pending": 5}
    assert (revicom["dead_letters"], revicom["lag"]) == (0, 5)
    assert status["providers"]["edna"]["dead_letters"] == 2
    assert [d["partition"] for d in status["recent_dead_letters"]] == [0, 0]
    assert status["recent_dead_letters"][0]["at"] < status["generated_at"]
    assert status["complete"] is False
    assert [w["answered"] for w in status["workers"]] == [True, True, False]

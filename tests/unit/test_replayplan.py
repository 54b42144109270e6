from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cbsp.replayplan import ReplayArgumentError, Slice, clamp, parse_offsets, parse_when

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", datetime(2026, 11, 26, 11, 58, 30, tzinfo=UTC)),
        ("30m", datetime(2026, 11, 26, 11, 30, tzinfo=UTC)),
        ("2h", datetime(2026, 11, 26, 10, 0, tzinfo=UTC)),
        ("7d", datetime(2026, 11, 19, 12, 0, tzinfo=UTC)),
        ("1w", datetime(2026, 11, 19, 12, 0, tzinfo=UTC)),
        ("2026-11-26T10:00:00Z", datetime(2026, 11, 26, 10, 0, tzinfo=UTC)),
        ("2026-11-26T13:00:00+03:00", datetime(2026, 11, 26, 10, 0, tzinfo=UTC)),
    ],
)
def test_times_absolute_and_relative(text: str, expected: datetime) -> None:
    assert parse_when(text, NOW) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("yesterday", "neither an RFC 3339 time"),
        ("2026-11-26T10:00:00", "has no time zone"),
        ("5y", "neither"),
    ],
)
def test_times_it_cannot_read_are_named(text: str, message: str) -> None:
    with pytest.raises(ReplayArgumentError, match=message):
        parse_when(text, NOW)


def test_offsets_get_the_prefix_and_round_trip_as_arguments() -> None:
    piece = parse_offsets("callbacks.raw.edna:3:100-250", "prod.")

    assert piece == Slice("prod.callbacks.raw.edna", 3, 100, 250)
    assert piece.count == 150
    assert piece.as_argument("prod.") == "callbacks.raw.edna:3:100-250"


@pytest.mark.parametrize(
    ("text", "message"), [("edna:1:5", "TOPIC:PARTITION:START-END"), ("t:1:9-3", "before START")]
)
def test_offsets_it_cannot_read_are_named(text: str, message: str) -> None:
    with pytest.raises(ReplayArgumentError, match=message):
        parse_offsets(text, "")


def test_clamp_keeps_what_the_partition_still_holds() -> None:
    assert clamp(Slice("t", 0, 0, 500), 100, 400) == Slice("t", 0, 100, 400)
    assert clamp(Slice("t", 0, 450, 500), 100, 400).count == 0

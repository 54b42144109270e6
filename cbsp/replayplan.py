"""What a replay covers: times (RFC 3339 or relative), explicit offset ranges, and the slices
of topic partitions that follow from them. Pure code, no Kafka."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

RELATIVE = re.compile(r"^(\d+)([smhdw])$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
OFFSETS = re.compile(r"^(?P<topic>[^:]+):(?P<partition>\d+):(?P<start>\d+)-(?P<end>\d+)$")


class ReplayArgumentError(ValueError):
    """A --since, --until or --offsets value that cannot be understood."""


@dataclass(frozen=True)
class Slice:
    """Offsets [start, end) of one partition."""

    topic: str
    partition: int
    start: int
    end: int

    @property
    def count(self) -> int:
        return max(0, self.end - self.start)

    def as_argument(self, prefix: str = "") -> str:
        """The --offsets value that selects this slice again (the prefix is added back by replay)."""
        return f"{self.topic.removeprefix(prefix)}:{self.partition}:{self.start}-{self.end}"


def parse_when(text: str, now: datetime) -> datetime:
    """An RFC 3339 time, or a time relative to ``now`` such as ``90s``, ``30m``, ``2h``, ``7d``, ``1w``."""
    relative = RELATIVE.match(text.strip())
    if relative:
        amount, unit = relative.groups()
        return now - timedelta(**{UNITS[unit]: int(amount)})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ReplayArgumentError(
            f"{text!r} is neither an RFC 3339 time (2026-11-26T10:00:00Z) nor relative (30m, 2h, 7d)"
        ) from None
    if moment.tzinfo is None:
        raise ReplayArgumentError(f"{text!r} has no time zone: add Z or an offset such as +03:00")
    return moment.astimezone(UTC)


def parse_offsets(text: str, prefix: str) -> Slice:
    """``TOPIC:PARTITION:START-END`` (END exclusive); TOPIC is the contract name, without prefix."""
    match = OFFSETS.match(text.strip())
    if not match:
        raise ReplayArgumentError(
            f"{text!r} is not TOPIC:PARTITION:START-END, e.g. callbacks.raw.edna:3:100-250"
        )
    start, end = int(match["start"]), int(match["end"])
    if end < start:
        raise ReplayArgumentError(f"{text!r}: END ({end}) is before START ({start})")
    return Slice(prefix + match["topic"], int(match["partition"]), start, end)


def clamp(wanted: Slice, first: int, last: int) -> Slice:
    """The part of ``wanted`` that exists in a partition holding offsets [first, last)."""
    return Slice(wanted.topic, wanted.partition, max(wanted.start, first), min(wanted.end, last))


def millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)

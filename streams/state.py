"""The per-message state and its merge rules, as pure functions.

The state of a message is a function of the *set* of its distinct events: the same
events in any order, with any duplicates, give the same state. That holds because
every field is derived by an order-independent rule, so that merging states is a
join (commutative, associative, idempotent):

- status: the winner of a total order (higher rank, then earlier provider time, then
  smaller event_id), so a late ``SENT`` never undoes ``DELIVERED``;
- price: the winner of (price time, event_id), the latest wins;
- channel and cascade: the winner of (provider time, event_id), the latest wins; a real
  channel beats Fortytwo's ``INTERNAL`` first phase whatever the times;
- read state: READ > UNREAD > unknown;
- times: min and max; counts: sizes of sets of event ids (and of short URLs).

The state keeps the ids of the events it holds. That is what makes "applying an event
a second time changes nothing" true at any later time (a provider retry a day later, a
replay months later): :func:`apply` looks the id up and returns ``None``. An event id
stands for its content; for a RecessMobile report, whose time is the gateway's receive
time, the copy applied first (the earliest in its partition) is the one that counts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from streams.canonical import FINAL_RANK, STATUS_RANKS, CanonicalEvent

INTERNAL_CHANNEL = "INTERNAL"  # Fortytwo reports a message first on this pseudo channel
READ_STATE_ORDER = {None: 0, "UNREAD": 1, "READ": 2}
DELIVERED_RANK = STATUS_RANKS["DELIVERED"]
FAILURES = frozenset(status for status, rank in STATUS_RANKS.items() if rank == FINAL_RANK)
DELIVERED_OR_LATER = frozenset(status for status, rank in STATUS_RANKS.items() if rank >= DELIVERED_RANK)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

T = TypeVar("T")
Timed = TypeVar("Timed", "PricePick", "ChannelPick", "CascadePick")


@dataclass(frozen=True)
class StatusPick:
    status: str
    rank: int
    is_final: bool
    provider_status: str
    error_code: str | None
    at: int  # epoch milliseconds, the provider's time
    event_id: str


@dataclass(frozen=True)
class PricePick:
    amount: Decimal
    currency: str
    parts: int | None
    at: int
    event_id: str


@dataclass(frozen=True)
class ChannelPick:
    channel: str
    at: int
    event_id: str


@dataclass(frozen=True)
class CascadePick:
    cascade_id: str
    step: int | None
    at: int
    event_id: str


@dataclass(frozen=True)
class MessageState:
    message_key: str
    provider: str
    provider_message_id: str
    first_event_at: int
    last_event_at: int
    status: StatusPick | None = None
    price: PricePick | None = None
    channel: ChannelPick | None = None
    cascade: CascadePick | None = None
    read_state: str | None = None
    last_click_at: int | None = None
    statuses: frozenset[str] = frozenset()  # every canonical status seen (for `conflict`)
    finals: frozenset[str] = frozenset()  # the statuses of events that were final
    short_urls: frozenset[str] = frozenset()
    ids: dict[str, frozenset[str]] = field(default_factory=dict)  # kind -> event ids

    @property
    def event_count(self) -> int:
        return sum(len(ids) for ids in self.ids.values())

    @property
    def click_count(self) -> int:
        return len(self.ids.get("click", ()))

    @property
    def inbound_count(self) -> int:
        return len(self.ids.get("inbound", ()))

    @property
    def conflict(self) -> bool:
        return is_conflict(self.statuses, self.finals)

    def holds(self, kind: str, event_id: str) -> bool:
        return event_id in self.ids.get(kind, ())


def apply(state: MessageState | None, event: CanonicalEvent) -> MessageState | None:
    """The state after ``event``, or None when the state already holds it (nothing to emit)."""
    if state is not None and state.holds(event.kind, event.event_id):
        return None
    single = of_event(event)
    return single if state is None else merge(state, single)


def status_wins(candidate: StatusPick, held: StatusPick | None) -> bool:
    """Higher rank wins; at equal rank the earlier provider time, then the smaller event_id."""
    if held is None:
        return True
    return (-candidate.rank, candidate.at, candidate.event_id) < (-held.rank, held.at, held.event_id)


def is_conflict(statuses: frozenset[str], finals: frozenset[str]) -> bool:
    """A failure and a delivery (either order), or two different finals of equal rank."""
    if not statuses.isdisjoint(DELIVERED_OR_LATER) and not statuses.isdisjoint(FAILURES):
        return True
    if len(finals) < 2:
        return False
    ranks = [STATUS_RANKS[status] for status in finals]
    return len(set(ranks)) < len(ranks)


def merge(a: MessageState, b: MessageState) -> MessageState:
    """The join of two states of one message: the state of the union of their events."""
    if a.message_key != b.message_key:
        raise ValueError(f"cannot merge states of {a.message_key!r} and {b.message_key!r}")
    return MessageState(
        message_key=a.message_key,
        provider=a.provider,
        provider_message_id=a.provider_message_id,
        first_event_at=min(a.first_event_at, b.first_event_at),
        last_event_at=max(a.last_event_at, b.last_event_at),
        status=_either(a.status, b.status, _status_winner),
        price=_either(a.price, b.price, _latest),
        channel=_either(a.channel, b.channel, _channel_winner),
        cascade=_either(a.cascade, b.cascade, _latest),
        read_state=max(a.read_state, b.read_state, key=READ_STATE_ORDER.__getitem__),
        last_click_at=_max_optional(a.last_click_at, b.last_click_at),
        statuses=a.statuses | b.statuses,
        finals=a.finals | b.finals,
        short_urls=a.short_urls | b.short_urls,
        ids={kind: a.ids.get(kind, frozenset()) | b.ids.get(kind, frozenset()) for kind in {*a.ids, *b.ids}},
    )


def _either(a: T | None, b: T | None, winner: Callable[[T, T], T]) -> T | None:
    if a is None or b is None:
        return b if a is None else a
    return winner(a, b)


def _status_winner(a: StatusPick, b: StatusPick) -> StatusPick:
    return a if status_wins(a, b) else b


def _latest(a: Timed, b: Timed) -> Timed:
    """The later (provider time, event_id): a total order, as event ids differ."""
    return a if (a.at, a.event_id) >= (b.at, b.event_id) else b


def _channel_winner(a: ChannelPick, b: ChannelPick) -> ChannelPick:
    """A real channel beats INTERNAL whatever the times; else the latest."""
    real_a, real_b = a.channel != INTERNAL_CHANNEL, b.channel != INTERNAL_CHANNEL
    if real_a != real_b:
        return a if real_a else b
    return _latest(a, b)


def _max_optional(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else max(a, b)


def millis(moment: datetime) -> int:
    """Epoch milliseconds of an aware datetime, exactly (no float on the way)."""
    return (moment - EPOCH) // timedelta(milliseconds=1)


def of_event(event: CanonicalEvent) -> MessageState:
    """The state of a message that has this one event."""
    record = event.record
    at = millis(record["occurred_at"])
    event_id = event.event_id
    shape = SHAPERS.get(event.kind)
    return MessageState(
        message_key=event.message_key,
        provider=record["provider"],
        provider_message_id=record["provider_message_id"],
        first_event_at=at,
        last_event_at=at,
        channel=ChannelPick(record["channel"], at, event_id) if record.get("channel") else None,
        cascade=_cascade_pick(record, at, event_id),
        ids={event.kind: frozenset((event_id,))},
        **(shape(record, at) if shape else {}),
    )


def _cascade_pick(record: Any, at: int, event_id: str) -> CascadePick | None:
    if record.get("cascade_id") is None:
        return None
    return CascadePick(record["cascade_id"], record.get("cascade_step"), at, event_id)


# What an event of each kind sets beyond the fields every event sets (``of_event``).
def _status_fields(record: Any, at: int) -> dict[str, Any]:
    status = record["status"]
    read_state = "READ" if status == "READ" else record.get("read_state")
    if status is None:
        return {"read_state": read_state}
    pick = StatusPick(
        status=status,
        rank=record["status_rank"],
        is_final=record["is_final"],
        provider_status=record["provider_status"],
        error_code=record["error_code"],
        at=at,
        event_id=record["event_id"],
    )
    statuses = frozenset((status,))
    return {
        "status": pick,
        "read_state": read_state,
        "statuses": statuses,
        "finals": statuses if record["is_final"] else frozenset(),
    }


def _price_fields(record: Any, at: int) -> dict[str, Any]:
    return {
        "price": PricePick(record["price"], record["currency"], record.get("parts"), at, record["event_id"])
    }


def _click_fields(record: Any, at: int) -> dict[str, Any]:
    urls = frozenset((record["short_url"],)) if record.get("short_url") else frozenset()
    return {"last_click_at": at, "short_urls": urls}


SHAPERS: dict[str, Callable[[Any, int], dict[str, Any]]] = {
    "status": _status_fields,
    "price": _price_fields,
    "click": _click_fields,
}

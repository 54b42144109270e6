"""The state of a cascade (the messages sharing a cascade id), as pure functions.

The cascade table is fed with the ``MessageState`` records of its members, repartitioned
by cascade key ``<provider>:<cascade id>``. A member's states form a chain in which
``event_count`` grows with every change (a state changes only by taking in a new event),
so the member entry kept is the one with the largest ``event_count``: the same records in
any order, with any duplicates, give the same cascade. Totals are summed per currency
over the members' prices (a member's price is its latest price event).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import orjson

from streams.state import millis
from streams.staterecords import jsonable, moment


@dataclass(frozen=True)
class Member:
    message_key: str
    provider_message_id: str
    step: int | None
    status: str | None
    status_at: int | None  # epoch milliseconds
    is_final: bool
    amount: Decimal | None
    currency: str | None
    event_count: int  # the version of the member's state


@dataclass(frozen=True)
class CascadeState:
    provider: str
    cascade_id: str
    members: Mapping[str, Member]  # message key -> member

    @property
    def cascade_key(self) -> str:
        return cascade_key(self.provider, self.cascade_id)


def cascade_key(provider: str, cascade_id: str) -> str:
    return f"{provider}:{cascade_id}"


def member_of(record: Mapping[str, Any]) -> Member:
    """The member entry of a ``MessageState`` record."""
    status, price = record["status"], record["price"]
    return Member(
        message_key=record["message_key"],
        provider_message_id=record["provider_message_id"],
        step=record["cascade_step"],
        status=status["status"] if status else None,
        status_at=millis(status["at"]) if status else None,
        is_final=bool(status and status["is_final"]),
        amount=price["amount"] if price else None,
        currency=price["currency"] if price else None,
        event_count=record["event_count"],
    )


def add_member(state: CascadeState | None, record: Mapping[str, Any]) -> CascadeState | None:
    """The cascade after a member's state, or None when it holds that state or a later one."""
    member = member_of(record)
    if state is None:
        return CascadeState(record["provider"], record["cascade_id"], {member.message_key: member})
    held = state.members.get(member.message_key)
    if held is not None and held.event_count >= member.event_count:
        return None
    return replace(state, members={**state.members, member.message_key: member})


def totals(state: CascadeState) -> dict[str, Decimal]:
    """The sum of the members' prices, per currency."""
    sums: dict[str, Decimal] = {}
    for member in state.members.values():
        if member.amount is not None and member.currency is not None:
            sums[member.currency] = sums.get(member.currency, Decimal(0)) + member.amount
    return dict(sorted(sums.items()))


def render(state: CascadeState) -> dict[str, Any]:
    """The table view's JSON: totals per currency and the members by step."""
    members = sorted(state.members.values(), key=lambda m: (m.step is None, m.step or 0, m.message_key))
    rendered: dict[str, Any] = jsonable(
        {
            "cascade_key": state.cascade_key,
            "provider": state.provider,
            "cascade_id": state.cascade_id,
            "message_count": len(members),
            "totals": totals(state),
            "steps": [_step(member) for member in members],
        }
    )
    return rendered


def _step(member: Member) -> dict[str, Any]:
    price = None if member.amount is None else {"amount": member.amount, "currency": member.currency}
    return {
        "step": member.step,
        "message_key": member.message_key,
        "provider_message_id": member.provider_message_id,
        "status": member.status,
        "status_at": moment(member.status_at),
        "is_final": member.is_final,
        "price": price,
    }


def to_json(state: CascadeState) -> bytes:
    """The table value: compact JSON, keys sorted (equal cascades give equal bytes)."""
    members = {key: _member_fields(member) for key, member in state.members.items()}
    document = {"provider": state.provider, "cascade_id": state.cascade_id, "members": members}
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)


def _member_fields(member: Member) -> dict[str, Any]:
    return {
        "message_key": member.message_key,
        "provider_message_id": member.provider_message_id,
        "step": member.step,
        "status": member.status,
        "status_at": member.status_at,
        "is_final": member.is_final,
        "amount": None if member.amount is None else str(member.amount),
        "currency": member.currency,
        "event_count": member.event_count,
    }


def from_json(data: bytes) -> CascadeState:
    document = orjson.loads(data)
    members = {
        key: Member(**{**fields, "amount": None if fields["amount"] is None else Decimal(fields["amount"])})
        for key, fields in document["members"].items()
    }
    return CascadeState(document["provider"], document["cascade_id"], members)

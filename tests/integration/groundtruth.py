"""What the system must end with, computed independently of it: Revicom callbacks of many
messages (with provider retries), the view of every message and cascade that the pure
normalizer and merge rules give for them, and the event ids they carry. Shared by the
worker tests (tests/integration) and the fault tests (tests/faults)."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from streams import cascade, codecs, state, staterecords
from streams.canonical import RawCallback, SourceRef
from streams.normalize import normalize
from tests.integration.pipeline import Pipeline, wait_answers

T = "2024-03-01T10:00:0{}Z"  # T.format(5): second 5 of a scenario
KINDS = {"sent": "status", "delivered": "status", "read": "status", "price": "price", "click": "click"}
RECEIVED = datetime(2024, 3, 1, 11, tzinfo=UTC)


def item(message_uuid: str, event: str, second: int, **fields: Any) -> dict[str, Any]:
    """One Revicom callback (status, price or click) at second ``second``."""
    base = {"message_uuid": message_uuid, "channel_type": "SMS", "callback_event": event}
    if event == "price":
        return {**base, "price_time": T.format(second), "currency": "EUR", "parts": 1, **fields}
    if event == "click":
        return {**base, "click_time": T.format(second), "url": "https://example.org", **fields}
    return {**base, "status": fields.pop("status", event), "status_time": T.format(second), **fields}


def histories(count: int, seed: int) -> list[dict[str, Any]]:
    """Callbacks of ``count`` messages (a third in cascades of three), shuffled, with retries."""
    rng = random.Random(seed)
    cascade_id = ""
    callbacks: list[dict[str, Any]] = []
    for n in range(count):
        message = str(uuid.UUID(int=rng.getrandbits(128)))
        if n % 9 == 0:
            cascade_id = str(uuid.UUID(int=rng.getrandbits(128)))
        on = {"cascade_message_uuid": cascade_id, "cascade_step": n % 9 + 1} if n % 9 < 3 else {}
        mine = [item(message, "sent", 1, **on), item(message, rng.choice(["delivered", "read"]), 5, **on)]
        mine += [
            item(message, "price", s, price=rng.choice([0.05, 0.07]), **on) for s in range(rng.randint(0, 2))
        ]
        mine += [
            item(message, "click", 6 + s, short_url=f"s.io/{s % 2}", **on) for s in range(rng.randint(0, 3))
        ]
        callbacks += mine + rng.sample(mine, k=min(2, len(mine)))  # provider retries
    rng.shuffle(callbacks)
    return callbacks


def raw_callbacks(callbacks: list[dict[str, Any]]) -> list[RawCallback]:
    """The callbacks as the worker reads them from the raw topic (source offsets made up)."""
    return [
        RawCallback(
            "revicom",
            KINDS[callback["callback_event"]],
            f"revicom:{callback['message_uuid']}",
            callback,
            RECEIVED,
            SourceRef("t", 0, n),
        )
        for n, callback in enumerate(callbacks)
    ]


def expected_views(callbacks: list[dict[str, Any]]) -> dict[str, Any]:
    """The view of every message and cascade, from the pure normalizer and merge rules."""
    states: dict[str, state.MessageState] = {}
    for raw in raw_callbacks(callbacks):
        for event in normalize(raw):
            states[raw.message_key] = (
                state.apply(states.get(raw.message_key), event) or states[raw.message_key]
            )
    views = {f"/messages/revicom/{s.provider_message_id}": staterecords.to_record(s) for s in states.values()}
    cascades: dict[str, cascade.CascadeState | None] = {}
    for record in views.values():
        if record["cascade_id"]:
            path = f"/cascades/revicom/{record['cascade_id']}"
            cascades[path] = cascade.add_member(cascades.get(path), record) or cascades[path]
    rendered = {path: staterecords.jsonable(record) for path, record in views.items()}
    return rendered | {path: cascade.render(c) for path, c in cascades.items() if c is not None}


def sent_event_ids(callbacks: list[dict[str, Any]]) -> Counter[str]:
    """Each distinct event id the callbacks carry, once: what the event topics must hold, however
    often a callback came (a duplicate emits nothing)."""
    return Counter({event.event_id for raw in raw_callbacks(callbacks) for event in normalize(raw)})


def message_keys(callbacks: list[dict[str, Any]]) -> set[bytes]:
    return {f"revicom:{c['message_uuid']}".encode() for c in callbacks}


def answers_as_expected(urls: list[str], expected: dict[str, Any], timeout_s: float = 90) -> None:
    """Wait until every worker answers every path of ``expected`` with exactly its view."""
    wait_answers(
        urls, sorted(expected), timeout_s, done=lambda path, body: body == expected[path], wanted=expected.get
    )


def emitted_event_ids(
    pipeline: Pipeline, callbacks: list[dict[str, Any]], count: int, timeout_s: float = 5
) -> Counter[str]:
    """The event ids on the event topics (read committed) for the callbacks' messages: the
    first ``count`` that come within ``timeout_s``."""
    keys = message_keys(callbacks)
    events = pipeline.consume(pipeline.topics.events_all(), keys=keys, count=count, timeout_s=timeout_s)
    return Counter(codecs.decode_message(r.value or b"")["event_id"] for r in events)


def state_chains(pipeline: Pipeline, keys: set[bytes], expected: dict[str, Any]) -> str:
    """Whether state.message.v1 carries each message's states once each, in order: the worker
    emits a message's state once per batch that changed it, so its ``event_count`` grows with
    every record (never the same state twice) and the last one is the final state's."""
    finals = {
        f"revicom:{v['provider_message_id']}".encode(): v["event_count"]
        for p, v in expected.items()
        if p.startswith("/messages/")
    }
    records = pipeline.consume(
        [pipeline.topics.state_message], keys=keys, count=sum(finals.values()) + 1, timeout_s=5
    )
    chains: dict[bytes, list[int]] = {}
    for record in records:
        chains.setdefault(record.key or b"", []).append(
            codecs.decode_message(record.value or b"")["event_count"]
        )
    broken = {
        key: chain
        for key, chain in chains.items()
        if chain[-1] != finals[key]
        or any(later <= earlier for earlier, later in zip(chain, chain[1:], strict=False))
    }
    missing = set(finals) - set(chains)
    if broken or missing:
        return f"broken chains: {list(broken.items())[:3]}, no state: {sorted(missing)[:3]}"
    return "every state emitted once, in order"

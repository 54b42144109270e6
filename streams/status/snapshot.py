"""What a worker can tell about its partitions and tables right now: consumer lag per source
partition, keys per table, changelog records still to restore, and its message states by
status. Read when asked (``/metrics``, ``/status.json``), never on the hot path.

Counting keys and states walks the local RocksDB tables, so it runs in a thread, not in
the event loop; RocksDB reads are safe beside the agents' writes.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from streams import staterecords
from streams.canonical import FINAL_RANK, STATUS_RANKS
from streams.faustpatches import access

logger = logging.getLogger(__name__)

DELIVERED_RANK = STATUS_RANKS["DELIVERED"]
# the status page's three groups of a message's latest status
OUTCOMES = ("delivered", "failed", "pending")


@dataclass(frozen=True)
class Snapshot:
    lags: dict[tuple[str, int], int] = field(default_factory=dict)  # (topic, partition) -> lag
    table_keys: dict[str, int] = field(default_factory=dict)
    recovery_remaining: dict[str, int] = field(default_factory=dict)


async def snapshot(app: Any) -> Snapshot:
    """Lag, table sizes and recovery of this worker; empty parts while it is not running yet."""
    return Snapshot(
        lags=await source_lags(app),
        table_keys=await asyncio.to_thread(table_keys, app),
        recovery_remaining=recovery_remaining(app),
    )


async def source_lags(app: Any) -> dict[tuple[str, int], int]:
    """End offset minus position for each assigned partition of the agents' source topics
    (not the changelogs: see :func:`recovery_remaining`)."""
    consumer = access.running_consumer(app)
    if consumer is None or app.rebalancing:
        return {}
    topics = {name for agent in app.agents.values() for name in agent.channel.topics}
    sources = sorted(tp for tp in consumer.assignment() if tp.topic in topics)
    if not sources:
        return {}
    return await access.consumer_lags(consumer, sources)


def table_keys(app: Any) -> dict[str, int]:
    """Keys per table in this worker's active partitions (walks the tables: call in a thread)."""
    counts: dict[str, int] = {}
    for table in app.tables.values():
        try:
            counts[table.name] = sum(1 for _ in table.data.keys())
        except RuntimeError as exc:  # the assignment changed while counting
            logger.debug("table not counted table=%s error=%r", table.name, exc)
    return counts


def recovery_remaining(app: Any) -> dict[str, int]:
    """Changelog records still to restore per table: 0 for every table once recovery is done."""
    tables = app.tables
    remaining = dict.fromkeys((table.name for table in tables.values()), 0)
    recovery = tables.recovery
    if not (recovery.in_recovery or app.rebalancing):
        return remaining
    by_changelog = {table.changelog_topic.get_topic_name(): table.name for table in tables.values()}
    for tp, count in recovery.active_remaining().items():
        if tp.topic in by_changelog:
            remaining[by_changelog[tp.topic]] += max(0, count)
    return remaining


def outcome_of(status: str | None) -> str:
    """delivered (DELIVERED, READ), failed (a final failure) or pending (anything else)."""
    rank = STATUS_RANKS.get(status or "", 0)
    if rank >= DELIVERED_RANK:
        return "delivered"
    if rank == FINAL_RANK:
        return "failed"
    return "pending"


def outcomes(states: Iterable[bytes]) -> dict[str, dict[str, int]]:
    """Messages per provider and outcome, from the message table's values."""
    counts: dict[str, Counter[str]] = {}
    for value in states:
        provider, status = staterecords.provider_and_status(value)
        counts.setdefault(provider, Counter())[outcome_of(status)] += 1
    return {provider: {o: found[o] for o in OUTCOMES} for provider, found in counts.items()}


def message_outcomes(table: Any) -> dict[str, dict[str, int]]:
    """:func:`outcomes` of this worker's active partitions (walks the table: call in a thread)."""
    try:
        return outcomes(table.data.values())
    except RuntimeError as exc:  # the assignment changed while counting
        logger.debug("message states not counted error=%r", exc)
        return {}

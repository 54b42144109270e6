"""The status page's numbers: one worker's part, and the group's, added up from every part.

A worker's part (``/status.json?scope=worker``) covers its own partitions: callbacks per
minute and dead letters it handled (``streams.status.activity``, memory only), its message states
by outcome (its active table partitions), and the lag of its source partitions. Partitions
belong to one worker at a time, so the group's numbers are the sums of the parts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from schemas.topicnames import PROVIDERS, TopicNames
from streams.status import snapshot
from streams.status.activity import DEAD_LETTERS_KEPT, WINDOW_MINUTES, Activity


async def worker_part(app: Any, activity: Activity, message_table: Any, url: str) -> dict[str, Any]:
    """This worker's part of the status, JSON-ready."""
    lags = await snapshot.source_lags(app)
    return {
        "worker": url,
        **activity.report(),
        "outcomes": await asyncio.to_thread(snapshot.message_outcomes, message_table),
        "lag": [
            {"topic": topic, "partition": partition, "lag": lag} for (topic, partition), lag in lags.items()
        ],
        "rebalancing": bool(app.rebalancing),
    }


def merge(
    parts: Iterable[Mapping[str, Any]],
    failures: Mapping[str, str],
    topics: TopicNames,
    now: float | None = None,
) -> dict[str, Any]:
    """The group's status from the workers' parts; ``failures``: worker URL -> why it is missing."""
    parts = list(parts)
    now = time.time() if now is None else now
    minutes = list(range(int(now // 60) - WINDOW_MINUTES + 1, int(now // 60) + 1))
    providers = {p: _provider(p, parts, minutes, topics) for p in PROVIDERS}
    recent = sorted(
        (d for part in parts for d in part["recent_dead_letters"]), key=lambda d: d["at"], reverse=True
    )
    return {
        "generated_at": _rfc3339(now),
        "minutes": [_rfc3339(minute * 60) for minute in minutes],
        "providers": providers,
        "recent_dead_letters": [{**d, "at": _rfc3339(d["at"])} for d in recent[:DEAD_LETTERS_KEPT]],
        "workers": [{"url": part["worker"], "answered": True} for part in parts]
        + [{"url": url, "answered": False, "error": error} for url, error in failures.items()],
        "complete": not failures and not any(part["rebalancing"] for part in parts),
    }


def _provider(
    provider: str, parts: list[Mapping[str, Any]], minutes: list[int], topics: TopicNames
) -> dict[str, Any]:
    per_minute = [0] * len(minutes)
    first = minutes[0]
    for part in parts:
        for minute, count in part["callbacks"].get(provider, {}).items():
            if 0 <= int(minute) - first < len(minutes):
                per_minute[int(minute) - first] += count
    outcomes = dict.fromkeys(snapshot.OUTCOMES, 0)
    for part in parts:
        for outcome, count in part["outcomes"].get(provider, {}).items():
            outcomes[outcome] += count
    raw_topic = topics.raw(provider)
    return {
        "per_minute": per_minute,
        "callbacks_last_hour": sum(per_minute),
        "outcomes": outcomes,
        "dead_letters": sum(part["dead_letters"].get(provider, 0) for part in parts),
        "lag": sum(lag["lag"] for part in parts for lag in part["lag"] if lag["topic"] == raw_topic),
    }


def _rfc3339(epoch_s: float) -> str:
    moment = datetime.fromtimestamp(epoch_s, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

"""Every topic the workers read or write, declared once on the app; names from
``schemas.topicnames`` with the deployment's prefix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from schemas.topicnames import EVENTS, TopicNames


@dataclass(frozen=True)
class Topics:
    # the raw topics and the replay topic (`cbsp replay`): keyed and partitioned alike, read alike
    raw_callbacks: Any
    events: dict[str, Any]
    state_message: Any
    # MessageState records keyed by cascade key: the cascade table's source, partitioned like it
    cascade_members: Any
    dlq: Any


def declare_topics(app: Any, names: TopicNames) -> Topics:
    def topic(*topic_names: str) -> Any:
        return app.topic(*topic_names, key_serializer="raw", value_serializer="raw")

    return Topics(
        raw_callbacks=topic(*names.raw_all(), names.replay),
        events={kind: topic(names.event(kind)) for kind in EVENTS},
        state_message=topic(names.state_message),
        cascade_members=topic(names.cascade_members),
        dlq=topic(names.dlq),
    )

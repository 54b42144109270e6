"""The agents: they subscribe the group to the raw topics and the cascade topic, so that the
tables' partitions follow theirs; their records never reach these streams.

The patched consumer (``streams.faustpatches.transport``) takes the records of both out of
each fetch and hands them to ``streams.rawbatches``, which processes them a fetched batch at a
time (docs/architecture.md, "The batch path").
"""

from __future__ import annotations

import logging
from typing import Any

from streams.topics import Topics

logger = logging.getLogger(__name__)


def install_agents(app: Any, topics: Topics) -> None:
    """Declare both agents on ``app`` (named as they were when they were module-level functions)."""
    app.agent(topics.raw_callbacks, name="streams.agents.normalize_callbacks")(_never_reached)
    app.agent(topics.cascade_members, name="streams.agents.total_cascades")(_never_reached)


async def _never_reached(stream: Any) -> None:
    async for event in stream.events():
        logger.error(
            "a record reached Faust's stream instead of the batch path, left unprocessed "
            "topic=%s partition=%d offset=%d",
            event.message.topic,
            event.message.partition,
            event.message.offset,
        )

"""The agents: they subscribe the group to the raw topics and the cascade topic, so that the
tables' partitions follow theirs; their records never reach these streams.

``streams.eos`` takes the records of both out of each fetch and hands them to
``streams.rawbatches``, which processes them a fetched batch at a time (docs/architecture.md,
"The batch path").
"""

from __future__ import annotations

import logging
from typing import Any

from streams import eos
from streams.app import app
from streams.rawbatches import raw_batches
from streams.topics import cascade_members_topic, raw_callbacks_topic

logger = logging.getLogger(__name__)
eos.batch_reader = raw_batches


@app.agent(raw_callbacks_topic)  # type: ignore[untyped-decorator]  # faust is untyped here
async def normalize_callbacks(callbacks: Any) -> None:
    await _never_reached(callbacks)


@app.agent(cascade_members_topic)  # type: ignore[untyped-decorator]  # faust is untyped here
async def total_cascades(members: Any) -> None:
    await _never_reached(members)


async def _never_reached(stream: Any) -> None:
    async for event in stream.events():
        logger.error(
            "a record reached Faust's stream instead of the batch path, left unprocessed "
            "topic=%s partition=%d offset=%d",
            event.message.topic,
            event.message.partition,
            event.message.offset,
        )

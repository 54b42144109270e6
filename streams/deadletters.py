"""Records that cannot be processed go to the DLQ with the reason, delivered before their offset
is committed.

Outside the transaction, and awaited: at least once, which is what an operator's inbox needs (a
dead letter twice replays to the same event ids), and the DLQ's offsets stay dense, one per
record, as ``cbsp replay`` counts them. A dead letter Kafka refuses is an ``OutputError``: the
worker stops before the record's offset is committed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from streams.batches import DeadLetter
from streams.errors import OutputError
from streams.raw import dlq_headers, provider_of
from streams.status.counters import Counters

logger = logging.getLogger(__name__)


class DeadLetters:
    def __init__(self, app: Any, topic: str, counters: Counters) -> None:
        self.app = app
        self.topic = topic
        self.counters = counters

    async def send(self, letters: Sequence[DeadLetter]) -> None:
        """Log, send and count each letter; return once Kafka has every one of them."""
        if not letters:
            return
        deliveries = []
        try:
            for letter in letters:
                logger.warning(
                    "dead-lettered topic=%s partition=%d offset=%d key=%r error=%s",
                    letter.source.topic,
                    letter.source.partition,
                    letter.source.offset,
                    letter.key,
                    letter.reason,
                )
                headers = dlq_headers(letter.headers, letter.reason, letter.source)
                delivery = await self.app.producer.send(
                    self.topic, letter.key, letter.value, None, None, headers
                )
                deliveries.append(delivery)
            await asyncio.gather(*deliveries)
        except Exception as error:
            raise OutputError.refused(self.topic, error) from error
        for letter in letters:
            provider = provider_of(letter.key, letter.headers)
            self.counters.count_dead_letter(provider, letter.key, letter.error, letter.source)

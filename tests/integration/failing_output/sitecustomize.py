"""Put on PYTHONPATH of a worker to make Kafka refuse one record: while the file named by
``CBSP_TEST_FAIL_ONCE_FILE`` exists, the first batch of state records handed to the producer
fails as aiokafka fails a send whose transaction is gone, and the file is removed (the restarted worker
sends it)."""

import os
from pathlib import Path

from aiokafka.errors import IllegalOperation

from streams.rawbatches import RawBatches
from streams.settings import WorkerSettings

FLAG = Path(os.environ["CBSP_TEST_FAIL_ONCE_FILE"])
STATE_TOPIC = WorkerSettings.from_env().topics.state_message
producer_for = RawBatches.producer_for


class Refusing:
    def __init__(self, producer):  # type: ignore[no-untyped-def]
        self.producer = producer

    def __getattr__(self, name):  # type: ignore[no-untyped-def]
        return getattr(self.producer, name)

    async def send_batch(self, batch, topic, *, partition):  # type: ignore[no-untyped-def]
        if topic == STATE_TOPIC and FLAG.exists():
            FLAG.unlink()
            raise IllegalOperation("Can't send messages while not in transaction")
        return await self.producer.send_batch(batch, topic, partition=partition)


def refusing_producer(self, consumer, tp):  # type: ignore[no-untyped-def]
    return Refusing(producer_for(self, consumer, tp))


RawBatches.producer_for = refusing_producer

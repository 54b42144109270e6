"""The agents: the raw topics' (read a batch at a time by ``streams.rawbatches``) and the cascade
topic's, whose member records are summed into the cascade table one event at a time.

The cascade agent handles each event with ``eos.process``: between two commits, so that under
exactly-once its table write commits with its offset, or neither does; a dead letter is
delivered before its offset.
"""

from __future__ import annotations

import logging
from typing import Any

from streams import cascade, codecs, deadletters, eos
from streams.app import app
from streams.batches import DeadLetter
from streams.canonical import SourceRef
from streams.raw import header_dict
from streams.rawbatches import raw_batches
from streams.tables import cascade_states, held
from streams.topics import cascade_members_topic, raw_callbacks_topic

logger = logging.getLogger(__name__)
eos.batch_reader = raw_batches  # the raw records go around Faust's stream, to streams.rawbatches


@app.agent(raw_callbacks_topic)  # type: ignore[untyped-decorator]  # faust is untyped here
async def normalize_callbacks(callbacks: Any) -> None:
    """Subscribes the group to the raw topics, so that the tables' partitions follow theirs.

    No record comes this way: ``streams.eos`` takes the raw partitions' records out of each
    fetch and hands them to ``streams.rawbatches``.
    """
    async for event in callbacks.events():
        logger.error(
            "a raw record reached Faust's stream instead of the batch path, left unprocessed "
            "topic=%s partition=%d offset=%d",
            event.message.topic,
            event.message.partition,
            event.message.offset,
        )


@app.agent(cascade_members_topic)  # type: ignore[untyped-decorator]  # faust is untyped here
async def total_cascades(members: Any) -> None:
    async for event in members.events():
        await eos.process(event, _total)


async def _total(event: Any) -> None:
    message = event.message
    headers = header_dict(event.headers)
    try:
        _add_member(event.key, codecs.decode_message(event.value, headers.items()))
    except Exception as exc:  # noqa: BLE001  (Faust would ack and lose the record)
        source = SourceRef(message.topic, message.partition, message.offset)
        await deadletters.send([DeadLetter(event.key, event.value, headers, source, exc)])


def _add_member(key: bytes, record: dict[str, Any]) -> None:
    stored = held(cascade_states, key)
    new = cascade.add_member(None if stored is None else cascade.from_json(stored), record)
    if new is not None:
        cascade_states[key] = cascade.to_json(new)

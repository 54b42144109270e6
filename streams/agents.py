"""Thin agents: decode -> normalize -> update state -> send; a failing record goes to the DLQ."""

from __future__ import annotations

import logging
from typing import Any

from streams import codecs, state
from streams.app import app, settings
from streams.canonical import CanonicalEvent, SourceRef
from streams.normalize import normalize
from streams.raw import decode_raw, dlq_headers, source_of
from streams.tables import message_states
from streams.topics import dlq_topic, event_topics, raw_callbacks_topic

logger = logging.getLogger(__name__)


@app.agent(raw_callbacks_topic)  # type: ignore[untyped-decorator]  # faust is untyped here
async def normalize_callbacks(callbacks: Any) -> None:
    async for event in callbacks.events():
        message = event.message
        source = source_of(event.headers, message.topic, message.partition, message.offset)
        try:
            raw = decode_raw(event.key, event.value, event.headers, source)
            for canonical in normalize(raw, settings.normalize_options):
                await _emit(canonical)
        except Exception as exc:  # noqa: BLE001  (Faust would ack and lose the record)
            await _dead_letter(event, exc, source)


async def _emit(event: CanonicalEvent) -> None:
    key = event.message_key.encode()
    value = codecs.encode(event.schema, event.record)
    await event_topics[event.kind].send(key=key, value=value, headers=codecs.headers_for(event.schema))
    new_state = state.apply(message_states.get(key), event)
    if new_state is not None:
        message_states[key] = new_state


async def _dead_letter(event: Any, exc: Exception, source: SourceRef) -> None:
    reason = f"{type(exc).__name__}: {exc}"
    logger.warning(
        "dead-lettered topic=%s partition=%d offset=%d key=%r error=%s",
        source.topic,
        source.partition,
        source.offset,
        event.key,
        reason,
    )
    await dlq_topic.send(key=event.key, value=event.value, headers=dlq_headers(event.headers, reason, source))

"""Thin agents: decode -> normalize -> update state -> send; a failing record goes to the DLQ.

Each event is handled by ``eos.process``: between two commits, so that under
exactly-once all that one raw record causes (events, table writes, state, cascade record)
commits with its offset, or none of it does; a dead letter is delivered before its offset.
"""

from __future__ import annotations

import logging
from typing import Any

from streams import cascade, codecs, eos, monitoring, state, staterecords
from streams.app import app, settings
from streams.canonical import CanonicalEvent, RawCallback, SourceRef
from streams.errors import NormalizeError, OutputError
from streams.normalize import normalize
from streams.raw import decode_raw, dlq_headers, header_dict, provider_of, source_of
from streams.tables import cascade_states, held, message_states
from streams.topics import (
    cascade_members_topic,
    dlq_topic,
    event_topics,
    raw_callbacks_topic,
    state_message_topic,
)

logger = logging.getLogger(__name__)
STATE_HEADERS = codecs.headers_for(staterecords.SCHEMA)


@app.agent(raw_callbacks_topic)  # type: ignore[untyped-decorator]  # faust is untyped here
async def normalize_callbacks(callbacks: Any) -> None:
    async for event in callbacks.events():
        await eos.process(event, _normalize)


@app.agent(cascade_members_topic)  # type: ignore[untyped-decorator]  # faust is untyped here
async def total_cascades(members: Any) -> None:
    async for event in members.events():
        await eos.process(event, _total)


async def _normalize(event: Any) -> None:
    message = event.message
    source = source_of(event.headers, message.topic, message.partition, message.offset)
    timestamp = monitoring.timestamp_of(event)
    monitoring.count_callback(provider_of(event.key, event.headers), timestamp)
    try:
        raw = decode_raw(event.key, event.value, event.headers, source)
        canonicals = normalize(raw, settings.normalize_options)
        if not canonicals:
            monitoring.count_unhandled(raw.provider, raw.kind)
        for canonical in canonicals:
            await _emit(raw, canonical, timestamp)
    except OutputError:
        raise  # Kafka's trouble, not the record's: never a dead letter
    except Exception as exc:  # noqa: BLE001  (Faust would ack and lose the record)
        await _dead_letter(event, exc, source)


async def _total(event: Any) -> None:
    message = event.message
    try:
        _add_member(event.key, codecs.decode_message(event.value, header_dict(event.headers).items()))
    except Exception as exc:  # noqa: BLE001  (Faust would ack and lose the record)
        await _dead_letter(event, exc, SourceRef(message.topic, message.partition, message.offset))


async def _emit(raw: RawCallback, event: CanonicalEvent, timestamp: float | None) -> None:
    if event.message_key != raw.message_key:  # its state would land in another key's partition
        raise NormalizeError(
            "message_key", f"{event.message_key!r} is not the record key {raw.message_key!r}"
        )
    key = event.message_key.encode()
    value = codecs.encode(event.schema, event.record)
    await send(event_topics[event.kind], key, value, codecs.headers_for(event.schema))
    monitoring.count_event(event, timestamp)
    await _update_state(key, event)


async def _update_state(key: bytes, event: CanonicalEvent) -> None:
    """Apply the event; only a state that really changed is stored and sent on."""
    stored = held(message_states, key)
    new = state.apply(None if stored is None else staterecords.from_json(stored), event)
    if new is None:
        monitoring.count_duplicate(event)
        return
    record = staterecords.to_record(new)
    value = codecs.encode(staterecords.SCHEMA, record)  # before the table: a refused record changes nothing
    message_states[key] = staterecords.to_json(new)
    await send(state_message_topic, key, value, STATE_HEADERS)
    if record["cascade_id"] is not None:
        cascade_key = cascade.cascade_key(record["provider"], record["cascade_id"]).encode()
        await send(cascade_members_topic, cascade_key, value, STATE_HEADERS)


async def send(topic: Any, key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]) -> None:
    """Hand a record to the producer (under exactly_once: the source partition's transaction).

    Straight to the producer rather than ``topic.send``: the same path without Faust's
    per-message future and sensor bookkeeping, a quarter of the worker's time when measured.
    Delivery is awaited by the commit (a flush, or the end of the transaction).
    """
    producer = await app.maybe_start_producer()
    try:
        await producer.send(topic.get_topic_name(), key, value, None, None, headers)
    except Exception as exc:
        raise OutputError.refused(topic.get_topic_name(), exc) from exc


def _add_member(key: bytes, record: dict[str, Any]) -> None:
    stored = held(cascade_states, key)
    new = cascade.add_member(None if stored is None else cascade.from_json(stored), record)
    if new is not None:
        cascade_states[key] = cascade.to_json(new)


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
    # Outside the transaction, delivered before the event is acked: at least once, which is
    # what an operator's inbox needs (a dead letter twice replays to the same event ids), and
    # its offsets stay dense, one per record, as `cbsp replay` counts them.
    headers = dlq_headers(event.headers, reason, source)
    try:
        delivery = await app.producer.send(
            dlq_topic.get_topic_name(), event.key, event.value, None, None, headers
        )
        await delivery
    except Exception as error:
        raise OutputError.refused(dlq_topic.get_topic_name(), error) from error
    monitoring.count_dead_letter(provider_of(event.key, event.headers), event.key, exc, source)

"""A batch of raw records in, everything it changes out: the worker's work, as one pure function.

:func:`process` takes the records of one raw partition as they were fetched (in offset order)
and a way to read a stored state, and computes what the batch makes, without any I/O:

- each record decoded and normalized, its events encoded; a record that fails anywhere in that
  is a :class:`DeadLetter`, alone, and nothing of it goes on;
- each message key's events merged into its state once: one read of the stored state, every
  event of the batch applied in order, and, when anything was new, one :class:`StateChange`
  (the table value, the ``MessageState`` record once encoded), whatever the number of events;
- only the events new to the state are emitted: a provider retry, or a replay, of an event the
  state holds emits nothing (``duplicates`` counts them).

The caller (``streams.batchwork``) writes the states, sends the records and dead letters, and
counts; this module imports nothing of Faust or Kafka, so the unit tests run it as it runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from schemas.topicnames import TopicNames
from streams import cascade, codecs, state, staterecords
from streams.canonical import EVENT_SCHEMAS, CanonicalEvent, NormalizeOptions, SourceRef
from streams.errors import NormalizeError
from streams.normalize import normalize
from streams.raw import decode_raw, header_dict, provider_of, source_of


@dataclass(frozen=True)
class NewEvent:
    event: CanonicalEvent
    value: bytes  # Avro single object
    timestamp_s: float | None  # its raw record's timestamp


@dataclass(frozen=True)
class StateChange:
    key: bytes
    table_value: bytes  # streams.staterecords JSON, the table's and its changelog's value
    value: bytes  # the Avro MessageState of state.message.v1 (and the cascade topic)
    cascade_key: bytes | None  # where the cascade table hears of it, if the message has one


@dataclass(frozen=True)
class DeadLetter:
    """A record that goes to the DLQ, and why (``streams.deadletters`` sends it)."""

    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes]
    source: SourceRef  # where it was read (for a replayed record: where it was first written)
    error: Exception

    @property
    def reason(self) -> str:
        return f"{type(self.error).__name__}: {self.error}"


@dataclass
class Callback:
    """A raw record taken in, whatever became of it (the activity counts these)."""

    provider: str
    timestamp_s: float | None


@dataclass
class BatchResult:
    events: list[NewEvent] = field(default_factory=list)
    states: list[StateChange] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    duplicates: list[CanonicalEvent] = field(default_factory=list)
    unhandled: list[tuple[str, str]] = field(default_factory=list)  # (provider, kind) kept raw only
    callbacks: list[Callback] = field(default_factory=list)


@dataclass
class _Taken:
    """One record's events, on their way to their key's merge."""

    record: Any
    headers: dict[str, bytes]
    source: SourceRef
    timestamp_s: float | None
    events: list[tuple[CanonicalEvent, bytes]]


StateReader = Callable[[bytes], bytes | None]
INTERNAL_STATE_HEADERS = codecs.headers_for(staterecords.SCHEMA)  # the cascade members topic's


class Output(NamedTuple):
    """One record to produce: ``partition`` None for the key's (the default partitioner's)."""

    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]] | None
    partition: int | None


def process(records: Iterable[Any], read_state: StateReader, options: NormalizeOptions) -> BatchResult:
    """What ``records`` (``topic``, ``partition``, ``offset``, ``timestamp`` in ms, ``key``,
    ``value``, ``headers``) change, given the stored states ``read_state`` returns."""
    result = BatchResult()
    by_key: dict[bytes, list[_Taken]] = {}
    for record in records:
        taken = _take(record, options, result)
        if taken is not None and taken.events:
            by_key.setdefault(record.key, []).append(taken)
    for key, takens in by_key.items():
        _merge(key, takens, read_state, result)
    return result


@dataclass
class MembersResult:
    """What a batch of ``state.cascade.members`` records changes: the cascades' table values."""

    cascades: list[tuple[bytes, bytes]] = field(default_factory=list)  # key, streams.cascade JSON
    dead_letters: list[DeadLetter] = field(default_factory=list)


def process_members(records: Iterable[Any], read_cascade: StateReader) -> MembersResult:
    """Each cascade's members merged from the batch's ``MessageState`` records: one read and, if
    anything changed, one table value per cascade key; a record that does not decode is a
    dead letter, alone."""
    result = MembersResult()
    by_key: dict[bytes, list[dict[str, Any]]] = {}
    for record in records:
        headers = header_dict(record.headers)
        try:
            by_key.setdefault(record.key, []).append(codecs.decode_message(record.value, headers.items()))
        except Exception as exc:  # noqa: BLE001  (whatever a record makes fail, it fails alone)
            source = SourceRef(record.topic, record.partition, record.offset)
            result.dead_letters.append(DeadLetter(record.key, record.value, headers, source, exc))
    for key, states in by_key.items():
        stored = read_cascade(key)
        current = held = None if stored is None else cascade.from_json(stored)
        for member_state in states:
            changed = cascade.add_member(current, member_state)
            if changed is not None:
                current = changed
        if current is not None and current is not held:
            result.cascades.append((key, cascade.to_json(current)))
    return result


def outputs(
    result: BatchResult,
    topics: TopicNames,
    changelog: str,
    partition: int,
    wire: codecs.WireFormat = codecs.SINGLE_OBJECT,
) -> Iterator[Output]:
    """Every record a batch of raw partition ``partition`` makes: its new events, and per changed
    state the ``state.message.v1`` record, the table's changelog record (into ``partition``, where
    the table keeps the key) and, for a message of a cascade, the cascade member record.

    The public topics' values are framed by ``wire``; the internal cascade members topic keeps
    single-object encoding whatever the wire format (its records need no registry to be read back).
    """
    event_headers = {kind: wire.headers(schema) for kind, schema in EVENT_SCHEMAS.items()}
    state_headers = wire.headers(staterecords.SCHEMA)
    for new in result.events:
        event = new.event
        value = wire.frame(event.schema, new.value)
        yield Output(
            topics.event(event.kind), event.message_key.encode(), value, event_headers[event.kind], None
        )
    for change in result.states:
        state_value = wire.frame(staterecords.SCHEMA, change.value)
        yield Output(topics.state_message, change.key, state_value, state_headers, None)
        yield Output(changelog, change.key, change.table_value, None, partition)
        if change.cascade_key is not None:
            yield Output(
                topics.cascade_members, change.cascade_key, change.value, INTERNAL_STATE_HEADERS, None
            )


def _take(record: Any, options: NormalizeOptions, result: BatchResult) -> _Taken | None:
    headers = header_dict(record.headers)
    source = source_of(headers, record.topic, record.partition, record.offset)
    timestamp_s = None if record.timestamp is None else record.timestamp / 1000.0
    result.callbacks.append(Callback(provider_of(record.key, headers), timestamp_s))
    try:
        raw = decode_raw(record.key, record.value, headers, source)
        canonicals = normalize(raw, options)
        if not canonicals:
            result.unhandled.append((raw.provider, raw.kind))
        events = []
        for event in canonicals:
            if event.message_key != raw.message_key:  # its state would land in another key's partition
                raise NormalizeError(
                    "message_key", f"{event.message_key!r} is not the record key {raw.message_key!r}"
                )
            events.append((event, codecs.encode(event.schema, event.record)))
    except Exception as exc:  # noqa: BLE001  (whatever a record makes fail, it fails alone)
        result.dead_letters.append(DeadLetter(record.key, record.value, headers, source, exc))
        return None
    return _Taken(record, headers, source, timestamp_s, events)


def _merge(key: bytes, takens: list[_Taken], read_state: StateReader, result: BatchResult) -> None:
    stored = read_state(key)
    current = None if stored is None else staterecords.from_json(stored)
    new_events: list[NewEvent] = []
    contributors: list[_Taken] = []
    for taken in takens:
        contributed = False
        for event, value in taken.events:
            changed = state.apply(current, event)
            if changed is None:
                result.duplicates.append(event)
                continue
            current, contributed = changed, True
            new_events.append(NewEvent(event, value, taken.timestamp_s))
        if contributed:
            contributors.append(taken)
    if not new_events or current is None:
        return
    try:
        record = staterecords.to_record(current, staterecords.as_millis)
        value = codecs.encode(staterecords.SCHEMA, record)
    except Exception as exc:  # noqa: BLE001  (a state its schema refuses: its new events go nowhere)
        for taken in contributors:
            result.dead_letters.append(
                DeadLetter(taken.record.key, taken.record.value, taken.headers, taken.source, exc)
            )
        return
    cascade_id = record["cascade_id"]
    cascade_key = None if cascade_id is None else cascade.cascade_key(record["provider"], cascade_id).encode()
    result.events.extend(new_events)
    result.states.append(StateChange(key, staterecords.to_json(current), value, cascade_key))

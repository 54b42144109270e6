"""What one record of history becomes in a replay, and the counts the summary reports.

The counts come from running the same pure normalizers the workers run, on the
records as they are sent: events the workers will emit, events whose id this replay
already carried (provider retries in the slice), and records normalization still
refuses (they will land in callbacks.dlq again).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field

from aiokafka import ConsumerRecord

from gateway.bodies import FORM, JSON, decode_body
from gateway.errors import GatewayError
from gateway.providers import REGISTRY as GATEWAY_PROVIDERS
from schemas.topicnames import TopicNames
from streams.canonical import SourceRef
from streams.errors import StreamsError
from streams.normalize import normalize
from streams.raw import decode_raw
from streams.settings import WorkerSettings

SOURCE_HEADERS = ("source_topic", "source_partition", "source_offset")
DROPPED_HEADERS = {"error", *SOURCE_HEADERS}

Headers = list[tuple[str, bytes]]


@dataclass(frozen=True)
class ReplayRecord:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: Headers


@dataclass
class ReplayStats:
    read: int = 0
    sent: int = 0
    events: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    still_rejected: int = 0
    seen: set[str] = field(default_factory=set, repr=False)

    def batch(self) -> ReplayStats:
        """Empty counts for one batch that share this replay's memory of event ids."""
        return ReplayStats(seen=self.seen)

    def add(self, batch: ReplayStats) -> None:
        """Count a batch once all its records were acknowledged."""
        self.read += batch.read
        self.sent += batch.sent
        self.events += batch.events
        self.duplicates += batch.duplicates
        self.dead_letters += batch.dead_letters
        self.still_rejected += batch.still_rejected

    def summary(self) -> str:
        text = (
            f"{self.read} records read, {self.sent} sent, {self.events} events emitted, "
            f"{self.duplicates} duplicates skipped, {self.dead_letters} to the DLQ"
        )
        return text + (f", {self.still_rejected} still refused" if self.still_rejected else "")


def to_replay_records(record: ConsumerRecord, names: TopicNames, stats: ReplayStats) -> list[ReplayRecord]:
    stats.read += 1
    headers = [(key, bytes(value)) for key, value in record.headers]
    if record.topic == names.rejected:
        return _from_rejected(record, headers, names, stats)
    found = dict(headers)
    if all(name in found for name in SOURCE_HEADERS):  # a dead letter: its original raw record
        source = SourceRef(
            found["source_topic"].decode(), int(found["source_partition"]), int(found["source_offset"])
        )
    else:
        source = SourceRef(record.topic, record.partition, record.offset)
    kept = [(k, v) for k, v in headers if k not in DROPPED_HEADERS]
    _count_events(record.key, record.value, kept, source, stats)
    stats.sent += 1
    return [ReplayRecord(names.replay, record.key, record.value, [*kept, *source_headers(source)])]


def source_headers(source: SourceRef) -> Headers:
    return [
        ("source_topic", source.topic.encode()),
        ("source_partition", str(source.partition).encode()),
        ("source_offset", str(source.offset).encode()),
    ]


def _count_events(
    key: bytes | None, value: bytes | None, headers: Headers, source: SourceRef, stats: ReplayStats
) -> None:
    try:
        events = normalize(decode_raw(key, value, headers, source), _options().normalize_options)
    except StreamsError:
        stats.dead_letters += 1
        return
    for event in events:
        if event.event_id in stats.seen:
            stats.duplicates += 1
        else:
            stats.seen.add(event.event_id)
            stats.events += 1


@functools.cache
def _options() -> WorkerSettings:
    return WorkerSettings.from_env()


def _from_rejected(
    record: ConsumerRecord, headers: Headers, names: TopicNames, stats: ReplayStats
) -> list[ReplayRecord]:
    """A refused request, split again by the gateway's provider code; raw records if it now passes."""
    found = dict(headers)
    provider_name = found.get("provider", b"").decode()
    provider = GATEWAY_PROVIDERS.get(provider_name)
    try:
        if provider is None:
            raise GatewayError(f"unknown provider {provider_name!r}")
        callbacks = provider.split(_parse(record.value or b"", found, provider.content_types, provider_name))
    except GatewayError:
        stats.still_rejected += 1
        return []
    kept = [(k, v) for k, v in headers if k not in ("error", "kind")]
    replayed_from = f"{record.topic}:{record.partition}:{record.offset}".encode()
    out = []
    for callback in callbacks:
        value = json.dumps(callback.payload, ensure_ascii=False, separators=(",", ":")).encode()
        extra = [("kind", callback.kind.encode()), ("replayed_from", replayed_from)]
        out.append(ReplayRecord(names.raw(provider_name), callback.message_key.encode(), value, kept + extra))
    stats.sent += len(out)
    return out


def _parse(body: bytes, headers: dict[str, bytes], accepted: frozenset[str], provider: str) -> object:
    content_type = headers.get("content_type", b"").decode()
    mimetype, _, params = content_type.partition(";")
    charset = params.partition("charset=")[2].strip().strip('"') or None
    mimetypes = [mimetype.strip().lower()] if content_type else [JSON, FORM]  # older records: guess
    error: GatewayError | None = None
    for candidate in (m for m in mimetypes if m in accepted):
        try:
            return decode_body(body, candidate, charset, accepted, provider)
        except GatewayError as exc:
            error = exc
    raise error or GatewayError(f"no content type of {provider} parses the body")

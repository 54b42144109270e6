"""The Kafka producer the gateway uses: one librdkafka producer (confluent-kafka) per process.

Flask serves requests on threads. librdkafka is thread-safe and does its batching, its
network and its protocol work on threads of its own, in C, outside the GIL; a request
thread only hands its records over (``produce``) and waits on a small per-request
object. One poller thread per producer serves librdkafka's delivery reports
(``poll``), and each report counts down the wait of the request it belongs to. The
producer is created in each server process after the fork (never at import), with
``acks=all`` and idempotence on; every request waits, with a bound, until Kafka
acknowledged all its records. Client errors and timeouts become
:class:`KafkaUnavailableError` (503, the provider retries).

Staying usable across outages, without a restart:

- librdkafka reconnects by itself (backoff at most ``RECONNECT_BACKOFF_MAX_MS``);
- after a failed or timed-out request, or while librdkafka says all brokers are down, the
  next request first asks Kafka for metadata (bounded by ``PROBE_S``), so while Kafka is
  down requests fail fast and queue no more records;
- a fatal error (the idempotent producer cannot go on, e.g. a sequence it cannot repair)
  replaces the producer: a new one, a new producer id, the old one getting the timeout to
  flush. librdkafka itself gets a new epoch after timed-out batches, so no replacement is
  needed for those.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from gateway.errors import BodyTooLargeError, KafkaSlowError, KafkaUnavailableError

logger = logging.getLogger(__name__)
kafka_logger = logging.getLogger("gateway.kafka")

RECORD_OVERHEAD_BYTES = 64 * 1024  # key, headers, batch framing on top of a body at the limit
TOO_LARGE = (KafkaError.MSG_SIZE_TOO_LARGE,)
PROBE_S = 0.5  # the metadata request a request makes after a failure: Kafka answers in ms when up
POLL_S = 0.1  # the poller's wait for delivery reports (and how soon it sees a stop)
# no linger: a request waits for its records' acknowledgement anyway, and under load batches
# form while earlier ones are in flight; 1 ms of linger cost 2 ms per request and 2 or 5 ms
# saved no CPU (docs/gateway.md)
LINGER_MS = 0
RECONNECT_BACKOFF_MAX_MS = 1000  # Kafka back: a request is accepted again within about a second
BUFFER_KBYTES = 64 * 1024  # records waiting for Kafka, per process; past it requests fail (503/spool)
DIGITS = re.compile(r"\d+")
LOG_REPEAT_S = 30.0  # the same librdkafka message (a broker unreachable) is logged once in this time


@dataclass(frozen=True)
class OutRecord:
    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


class RawProducer:
    def __init__(self, bootstrap_servers: str, timeout_s: float, max_body_bytes: int = 1024 * 1024) -> None:
        self._bootstrap_servers = bootstrap_servers
        self._timeout_s = timeout_s
        # the client lets through what the body limit lets in; the broker's message.max.bytes decides
        self._max_request_size = max(1024 * 1024, max_body_bytes + RECORD_OVERHEAD_BYTES)
        self._lock = threading.Lock()
        self._client: _Client | None = None
        self._failures = 0  # requests in a row that failed or timed out (or brokers reported down)
        self._closed = False

    def send_all(
        self,
        records: Sequence[OutRecord],
        timeout_s: float | None = None,
        late: Callable[[list[int] | None], None] | None = None,
    ) -> None:
        """Return once Kafka acknowledged every record; raise KafkaUnavailableError otherwise,
        with ``undelivered``: the indexes of the records Kafka did not take (the others it
        did; ``None``: all, or not known).

        Without ``late``, a send not acknowledged within ``timeout_s`` (default: the produce
        timeout) is given up by the request (the records stay with librdkafka until its
        delivery timeout, the produce timeout). With it, ``late(undelivered)`` is called, on
        the producer's poller thread, once every record's outcome is known (``[]``: all
        delivered, ``None``: none, or not known).
        """
        timeout_s = self._timeout_s if timeout_s is None else timeout_s
        client = self._current()
        if self._failures:  # Kafka was in trouble: is it back?
            self._probe(client, min(PROBE_S, timeout_s), "produce")
        acks = _Acks(len(records))
        produce = client.producer.produce
        for index, r in enumerate(records):
            try:
                produce(
                    r.topic,
                    r.value,
                    r.key,
                    headers=r.headers,  # type: ignore[arg-type]  # (str, bytes) pairs: accepted, list is invariant
                    on_delivery=partial(acks.done, index),
                )
            except (BufferError, KafkaException) as exc:  # refused before sending: those from here
                error = _error_of(exc)
                if error is not None and error.code() in TOO_LARGE:
                    raise BodyTooLargeError("Kafka refuses a record this large (message.max.bytes)") from exc
                acks.refused(range(index, len(records)), error or KafkaError(KafkaError._FAIL, str(exc)))
                break
        if not acks.wait(timeout_s):
            self._note_failure()
            if late is not None:
                acks.when_decided(late)
            raise KafkaSlowError(f"Kafka did not acknowledge within {timeout_s:g}s (produce); retry later")
        failed = acks.failed()
        if not failed:
            self._failures = 0
            return
        cause = acks.errors[failed[0]]
        if cause.code() in TOO_LARGE:  # permanent: a retry would fail the same way
            raise BodyTooLargeError("Kafka refuses a record this large (message.max.bytes)")
        self._note_failure()
        if cause.fatal():
            self._replace(client, repr(cause))
        logger.warning("produce failed bootstrap=%s error=%s", self._bootstrap_servers, cause.str())
        unavailable = KafkaUnavailableError(f"Kafka is not reachable (produce: {_name(cause)}); retry later")
        unavailable.undelivered = failed
        raise unavailable

    def is_ready(self, timeout_s: float = 3.0) -> bool:
        """Whether Kafka answers a metadata request now."""
        try:
            self._probe(self._current(), min(timeout_s, self._timeout_s), "readiness check")
        except KafkaUnavailableError:
            return False
        return True

    def warm_up(self) -> None:
        """Start connecting now, in the background (a server process calls this after the fork)."""
        client = self._current()
        threading.Thread(target=self._connect, args=(client,), name="kafka-warm-up", daemon=True).start()

    def close(self) -> None:
        """Flush what is buffered (bounded by the timeout), stop the producer and its poller."""
        with self._lock:
            client, self._client, self._closed = self._client, None, True
        if client is None:
            return
        client.retire(self._timeout_s)
        client.join(self._timeout_s + 1)
        logger.info("producer closed bootstrap=%s", self._bootstrap_servers)

    def _connect(self, client: _Client) -> None:
        try:
            client.producer.list_topics(timeout=self._timeout_s)
        except KafkaException as exc:
            logger.warning("Kafka not reachable yet, requests will retry: %s", _describe(exc))
            return
        logger.info("producer connected bootstrap=%s", self._bootstrap_servers)

    def _probe(self, client: _Client, timeout_s: float, what: str) -> None:
        try:
            client.producer.list_topics(timeout=timeout_s)
        except KafkaException as exc:  # the details (broker addresses) go to the log only
            self._note_failure()
            logger.warning("%s failed bootstrap=%s error=%s", what, self._bootstrap_servers, _describe(exc))
            raise KafkaUnavailableError(
                f"Kafka is not reachable ({what}: {_name(_error_of(exc))}); retry later"
            ) from None

    def _current(self) -> _Client:
        with self._lock:
            if self._client is None:
                if self._closed:
                    raise KafkaUnavailableError("the gateway is stopping; retry later")
                self._client = _Client(self._config(), self._on_error)
            return self._client

    def _config(self) -> dict[str, Any]:
        timeout_ms = int(self._timeout_s * 1000)
        return {
            "bootstrap.servers": self._bootstrap_servers,
            "client.id": "cbsp-gateway",
            "acks": "all",
            "enable.idempotence": True,
            # the partition of a key as Kafka's Java client and aiokafka (the worker, replay) choose it
            "partitioner": "murmur2_random",
            "linger.ms": LINGER_MS,
            "message.timeout.ms": timeout_ms,  # a record's outcome is known within the produce timeout
            "request.timeout.ms": min(30_000, timeout_ms),
            "message.max.bytes": self._max_request_size,
            "queue.buffering.max.kbytes": BUFFER_KBYTES,
            "reconnect.backoff.max.ms": RECONNECT_BACKOFF_MAX_MS,
            "logger": _KafkaLog(),
        }

    def _on_error(self, client: _Client, error: KafkaError) -> None:
        """librdkafka's error callback (poller thread): all brokers down, or a fatal error."""
        if error.fatal():
            self._note_failure()
            self._replace(client, error.str())
        elif error.code() == KafkaError._ALL_BROKERS_DOWN:
            self._note_failure()

    def _note_failure(self) -> None:
        self._failures += 1

    def _replace(self, client: _Client, reason: str) -> None:
        with self._lock:
            if self._client is not client:
                return
            self._client = None
        logger.warning("replacing the Kafka producer after %s", reason)
        client.retire(self._timeout_s)


class _Client:
    """One librdkafka producer and the thread that serves its delivery reports."""

    def __init__(self, config: dict[str, Any], on_error: Callable[[_Client, KafkaError], None]) -> None:
        self.producer = Producer({**config, "error_cb": partial(on_error, self)})
        self._stop = threading.Event()
        self._flush_s = 0.0
        self._thread = threading.Thread(target=self._serve, name="kafka-producer", daemon=True)
        self._thread.start()

    def retire(self, flush_s: float) -> None:
        """Stop serving once what is buffered is delivered (or failed) or ``flush_s`` passed."""
        self._flush_s = flush_s
        self._stop.set()

    def join(self, timeout_s: float) -> None:
        if self._thread is not threading.current_thread():
            self._thread.join(timeout_s)

    def _serve(self) -> None:
        poll = self.producer.poll
        while not self._stop.is_set():
            poll(POLL_S)
        left = self.producer.flush(self._flush_s)
        if left:  # not delivered in time: failed now (their requests' late sends release their rows)
            logger.warning("producer stopped with %d records not acknowledged", left)
            self.producer.purge()
            self.producer.flush(0)


class _Acks:
    """The outcome of one request's records: counted down by their delivery reports.

    ``_pending`` is held until every record's outcome is known: the request waits by
    acquiring it (the cheapest wait there is: one lock, no condition).
    """

    __slots__ = ("_left", "_lock", "_pending", "_late", "errors")

    def __init__(self, count: int) -> None:
        self._left = count
        self._lock = threading.Lock()
        self._pending = threading.Lock()
        self._late: Callable[[list[int] | None], None] | None = None
        self.errors: dict[int, KafkaError] = {}
        if count:
            self._pending.acquire()

    def done(self, index: int, error: KafkaError | None, message: Message) -> None:
        """A delivery report (poller thread)."""
        self._count([index], error)

    def refused(self, indexes: range, error: KafkaError) -> None:
        """Records the producer did not take."""
        self._count(list(indexes), error)

    def wait(self, timeout_s: float) -> bool:
        """Whether every record's outcome is known within ``timeout_s`` (call once)."""
        return self._pending.acquire(timeout=max(0.0, timeout_s))

    def failed(self) -> list[int]:
        return sorted(self.errors)

    def when_decided(self, late: Callable[[list[int] | None], None]) -> None:
        """Call ``late(undelivered)`` once every record's outcome is known (now, if it is)."""
        with self._lock:
            if self._left:
                self._late = late
                return
        late(self.failed())

    def _count(self, indexes: list[int], error: KafkaError | None) -> None:
        with self._lock:
            if error is not None:
                for index in indexes:
                    self.errors[index] = error
            self._left -= len(indexes)
            if self._left:
                return
            late = self._late
            self._pending.release()
        if late is not None:
            late(self.failed())


class _KafkaLog:
    """librdkafka's log lines into the gateway's log, each repeated line at most every LOG_REPEAT_S."""

    def __init__(self) -> None:
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def log(self, level: int, fmt: str, *args: object) -> None:
        line = fmt % args if args else fmt
        key = DIGITS.sub("", line)  # "after 0ms", the client's number: the same line
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(key, -LOG_REPEAT_S) < LOG_REPEAT_S:
                return
            self._last[key] = now
            if len(self._last) > 1000:
                self._last.clear()
        kafka_logger.log(level, "%s", line)


def _error_of(exc: BaseException) -> KafkaError | None:
    if isinstance(exc, KafkaException) and exc.args and isinstance(exc.args[0], KafkaError):
        return exc.args[0]
    return None


def _name(error: KafkaError | None) -> str:
    return error.name() if error is not None else "KafkaError"


def _describe(exc: KafkaException) -> str:
    error = _error_of(exc)
    return error.str() if error is not None else repr(exc)


def undelivered_of(undelivered: list[int] | None, count: int) -> list[int]:
    """The indexes, among ``count`` records, an ``undelivered`` answer names (``None``: all)."""
    return list(range(count)) if undelivered is None else undelivered

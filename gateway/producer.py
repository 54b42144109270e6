"""The Kafka producer the gateway uses: one aiokafka producer per process, on its own loop thread.

Flask serves requests on threads; aiokafka lives on asyncio. The event loop thread
and the producer are created in each server process after the fork (never at import);
every request waits, with a bound, until Kafka acknowledged all its records with
``acks=all`` and idempotence on. Client errors and timeouts become
:class:`KafkaUnavailableError` (503, the provider retries).

Staying usable across outages, without a restart:

- a producer that failed to start is stopped and the next request starts a new one;
- after a failed or timed-out request, the next one first asks Kafka for metadata, so
  while Kafka is down requests fail fast and queue no more records;
- a record Kafka refused (e.g. a sequence gap after an expired batch) or repeated
  timeouts while Kafka answers replace the producer: a new one, a new producer id.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeoutError
from dataclasses import dataclass
from typing import Any, TypeVar

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, KafkaTimeoutError, MessageSizeTooLargeError, RecordTooLargeError

from gateway.errors import BodyTooLargeError, KafkaSlowError, KafkaUnavailableError

logger = logging.getLogger(__name__)

T = TypeVar("T")
REPLACE_AFTER_TIMEOUTS = 3
RECORD_OVERHEAD_BYTES = 64 * 1024  # key, headers, batch framing on top of a body at the limit
TOO_LARGE = (MessageSizeTooLargeError, RecordTooLargeError)


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
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._producer: AIOKafkaProducer | None = None
        self._start_lock = asyncio.Lock()
        self._failures = 0  # requests in a row that failed or timed out
        self._retiring: set[asyncio.Task[None]] = set()

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
        timeout) is cancelled. With it, the send goes on in the background and
        ``late(undelivered)`` is called, on the producer's thread, once every record's outcome
        is known (``[]``: all delivered, ``None``: none, or not known).
        """
        coroutine = self._send_all(records)
        self._run(coroutine, self._timeout_s if timeout_s is None else timeout_s, "produce", late)

    def is_ready(self, timeout_s: float = 3.0) -> bool:
        """Whether Kafka answers a metadata request now."""
        try:
            self._run(self._probe(), min(timeout_s, self._timeout_s), "readiness check")
        except KafkaUnavailableError:
            return False
        return True

    def warm_up(self) -> None:
        """Start connecting now, in the background (a server process calls this after the fork)."""
        future = asyncio.run_coroutine_threadsafe(self._started(), self._ensure_loop())
        future.add_done_callback(_log_warm_up)

    def close(self) -> None:
        """Flush what is buffered (bounded by the timeout), stop the producer and the loop thread."""
        with self._lock:
            loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if loop is None or thread is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._stop_all(), loop)
        try:
            future.result(self._timeout_s + 1)
        except (FutureTimeoutError, KafkaError, OSError) as exc:
            logger.warning("producer did not stop cleanly: %r", exc)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(self._timeout_s)
        logger.info("producer closed bootstrap=%s", self._bootstrap_servers)

    def _run(
        self,
        coroutine: Coroutine[Any, Any, T],
        timeout_s: float,
        what: str,
        late: Callable[[list[int] | None], None] | None = None,
    ) -> T:
        loop = self._ensure_loop()
        future = asyncio.run_coroutine_threadsafe(coroutine, loop)
        try:
            return future.result(timeout_s)
        except FutureTimeoutError:
            if late is None:
                future.cancel()
            else:
                loop.call_soon_threadsafe(self._note_slow)
                future.add_done_callback(lambda done: late(_undelivered(done)))
            raise KafkaSlowError(
                f"Kafka did not acknowledge within {timeout_s:g}s ({what}); retry later"
            ) from None
        except UndeliveredError as exc:
            if isinstance(exc.cause, TOO_LARGE):  # permanent: a retry would fail the same way
                raise BodyTooLargeError(
                    "Kafka refuses a record this large (message.max.bytes)"
                ) from exc.cause
            logger.warning("%s failed bootstrap=%s error=%r", what, self._bootstrap_servers, exc.cause)
            error = KafkaUnavailableError(
                f"Kafka is not reachable ({what}: {type(exc.cause).__name__}); retry later"
            )
            error.undelivered = exc.undelivered
            raise error from exc.cause
        except (KafkaError, OSError) as exc:  # the details (broker addresses) go to the log only
            logger.warning("%s failed bootstrap=%s error=%r", what, self._bootstrap_servers, exc)
            raise KafkaUnavailableError(
                f"Kafka is not reachable ({what}: {type(exc).__name__}); retry later"
            ) from exc

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(
                    target=self._loop.run_forever, name="kafka-producer", daemon=True
                )
                self._thread.start()
            return self._loop

    # -- on the loop thread ---------------------------------------------------

    async def _send_all(self, records: Sequence[OutRecord]) -> None:
        """Send and wait for every record's outcome; UndeliveredError names the ones Kafka did not take."""
        producer = await self._started()
        if self._failures:
            await producer.client.fetch_all_metadata()  # Kafka was in trouble: is it back?
        acks: list[asyncio.Future[Any]] = []
        try:
            try:  # client-side checks and the wait for the topic's metadata
                for r in records:
                    acks.append(await producer.send(r.topic, value=r.value, key=r.key, headers=r.headers))
            except KafkaError as exc:  # the records handed over before it may still be delivered
                failed = await _failed_of(acks)
                self._failed(producer, replace=False, reason=repr(exc))
                raise UndeliveredError(failed + list(range(len(acks), len(records))), exc) from exc
            failed = await _failed_of(acks)
        except asyncio.CancelledError:
            self._timed_out(producer)
            raise
        if failed:
            cause = acks[failed[0]].exception() or KafkaError("cancelled")
            # a refused batch may leave a sequence gap behind: start afresh; but not after a
            # retriable error (no leader during an election, a broker going away): a new
            # producer id would lose the broker's dedupe of the batches still in flight
            retriable = isinstance(cause, KafkaError) and cause.retriable
            replace = not isinstance(cause, KafkaTimeoutError) and not retriable
            self._failed(producer, replace=replace, reason=repr(cause))
            raise UndeliveredError(failed, cause)
        self._failures = 0

    async def _probe(self) -> None:
        producer = await self._started()
        await producer.client.fetch_all_metadata()

    async def _started(self) -> AIOKafkaProducer:
        async with self._start_lock:
            if self._producer is None:
                self._producer = await self._start()
            return self._producer

    async def _start(self) -> AIOKafkaProducer:
        producer = AIOKafkaProducer(
            bootstrap_servers=self._bootstrap_servers,
            acks="all",
            enable_idempotence=True,
            # no linger: a request waits for its records' acknowledgement anyway, and batches
            # form while earlier ones are in flight; 2 ms of linger doubled the median latency
            # (docs/benchmarks.md) and gained no throughput
            linger_ms=0,
            request_timeout_ms=int(self._timeout_s * 1000),
            max_request_size=self._max_request_size,
        )
        try:
            await producer.start()
        except BaseException:
            await producer.stop()
            raise
        logger.info("producer connected bootstrap=%s", self._bootstrap_servers)
        return producer

    def _note_slow(self) -> None:
        """A request stopped waiting for its send: later ones check Kafka first, as after a timeout."""
        self._failures += 1

    def _timed_out(self, producer: AIOKafkaProducer) -> None:
        """The request's own timeout: Kafka slow or gone; several in a row while it answers: replace."""
        self._failed(producer, replace=self._failures + 1 >= REPLACE_AFTER_TIMEOUTS, reason="timeouts")

    def _failed(self, producer: AIOKafkaProducer, *, replace: bool, reason: str) -> None:
        self._failures += 1
        if replace and self._producer is producer:
            logger.warning("replacing the Kafka producer after %s", reason)
            self._producer = None
            task = asyncio.get_running_loop().create_task(self._retire(producer))
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)

    async def _retire(self, producer: AIOKafkaProducer) -> None:
        """Stop a replaced producer, giving its buffered records the timeout to be delivered."""
        try:
            await asyncio.wait_for(producer.stop(), self._timeout_s)
        except (TimeoutError, KafkaError, OSError) as exc:
            logger.warning("replaced producer did not stop cleanly: %r", exc)

    async def _stop_all(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            self._retiring.add(asyncio.get_running_loop().create_task(self._retire(producer)))
        if self._retiring:
            await asyncio.gather(*self._retiring, return_exceptions=True)


class UndeliveredError(Exception):
    """Kafka did not take the records at ``undelivered`` (indexes) of a send; the others it did."""

    def __init__(self, undelivered: list[int], cause: BaseException) -> None:
        super().__init__(f"{len(undelivered)} records not delivered: {cause!r}")
        self.undelivered = undelivered
        self.cause = cause


async def _failed_of(acks: list[asyncio.Future[Any]]) -> list[int]:
    """Wait for every acknowledgement; the indexes of those that failed."""
    await asyncio.gather(*acks, return_exceptions=True)
    return [i for i, ack in enumerate(acks) if ack.cancelled() or ack.exception() is not None]


def _undelivered(done: Future[Any]) -> list[int] | None:
    """The records a finished send did not deliver: ``[]`` none, ``None`` all (or not known)."""
    if done.cancelled():
        return None
    exc = done.exception()
    if exc is None:
        return []
    return exc.undelivered if isinstance(exc, UndeliveredError) else None


def undelivered_of(undelivered: list[int] | None, count: int) -> list[int]:
    """The indexes, among ``count`` records, an ``undelivered`` answer names (``None``: all)."""
    return list(range(count)) if undelivered is None else undelivered


def _log_warm_up(done: Future[AIOKafkaProducer]) -> None:
    if not done.cancelled() and done.exception() is not None:
        logger.warning("Kafka not reachable yet, requests will retry: %r", done.exception())

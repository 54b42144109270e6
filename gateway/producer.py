"""The Kafka producer the gateway uses: one aiokafka producer per process, on its own loop thread.

Flask serves requests on threads; aiokafka lives on asyncio. The producer and
its event loop are created lazily, on the first request after the server forked,
never at import. Every request waits, with a bound, until Kafka acknowledged all
its records with ``acks=all``; client errors become :class:`KafkaUnavailableError`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine, Sequence
from concurrent.futures import TimeoutError as FutureTimeoutError
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from gateway.errors import KafkaUnavailableError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutRecord:
    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


class RawProducer:
    def __init__(self, bootstrap_servers: str, timeout_s: float) -> None:
        self._bootstrap_servers = bootstrap_servers
        self._timeout_s = timeout_s
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._producer: AIOKafkaProducer | None = None
        self._start_lock = asyncio.Lock()

    def send_all(self, records: Sequence[OutRecord]) -> None:
        """Return once Kafka acknowledged every record; raise KafkaUnavailableError otherwise."""
        self._run(self._send_all(records), self._timeout_s, "produce")

    def is_ready(self, timeout_s: float = 3.0) -> bool:
        """Whether Kafka answers a metadata request now."""
        try:
            self._run(self._fetch_metadata(), timeout_s, "readiness check")
        except KafkaUnavailableError:
            return False
        return True

    def close(self) -> None:
        with self._lock:
            if self._loop is None:
                return
            if self._producer is not None:
                future = asyncio.run_coroutine_threadsafe(self._producer.stop(), self._loop)
                try:
                    future.result(self._timeout_s)
                except (FutureTimeoutError, KafkaError) as exc:
                    logger.warning("producer did not stop cleanly: %r", exc)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._loop, self._producer = None, None

    def _run(self, coroutine: Coroutine[Any, Any, None], timeout_s: float, what: str) -> None:
        loop = self._ensure_loop()
        future = asyncio.run_coroutine_threadsafe(coroutine, loop)
        try:
            future.result(timeout_s)
        except FutureTimeoutError:
            future.cancel()
            raise KafkaUnavailableError(
                f"Kafka did not acknowledge within {timeout_s:g}s ({what}); retry later"
            ) from None
        except (KafkaError, OSError) as exc:
            raise KafkaUnavailableError(f"Kafka is not reachable ({what}): {exc!r}; retry later") from exc

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="kafka-producer", daemon=True)
                thread.start()
                self._loop = loop
            return self._loop

    async def _started(self) -> AIOKafkaProducer:
        async with self._start_lock:
            return await self._start_once()

    async def _start_once(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self._bootstrap_servers,
                acks="all",
                enable_idempotence=True,
                linger_ms=2,
                request_timeout_ms=int(self._timeout_s * 1000),
            )
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer
            logger.info("producer connected bootstrap=%s", self._bootstrap_servers)
        return self._producer

    async def _send_all(self, records: Sequence[OutRecord]) -> None:
        producer = await self._started()
        acks = [await producer.send(r.topic, value=r.value, key=r.key, headers=r.headers) for r in records]
        await asyncio.gather(*acks)

    async def _fetch_metadata(self) -> None:
        producer = await self._started()
        await producer.client.fetch_all_metadata()

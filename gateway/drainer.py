"""Sends spooled records to Kafka, oldest first, and deletes them once Kafka acknowledged them.

Every gateway process runs one drainer thread. It also says, every few seconds, that its
process is alive (the rows its requests have in flight stay theirs). The spool's lease lets
one drainer work at a time, so two processes never send the same rows. A batch Kafka has not
decided on is waited for, lease renewed, until it has: resent while it may still arrive, it
would arrive twice. A drainer that dies holding the lease (a killed process) loses it when it
expires, and another process, or the restarted one, goes on from the oldest row left: rows
sent but not yet deleted at the crash are sent once more.
"""

from __future__ import annotations

import logging
import threading
import time

from gateway.errors import KafkaSlowError, KafkaUnavailableError, SpoolUnavailableError
from gateway.metrics import Metrics
from gateway.producer import OutRecord, RawProducer, undelivered_of
from gateway.spool import Spool

logger = logging.getLogger(__name__)

BATCH = 500
LEASE_S = 15.0  # renewed every RENEW_S while this process drains
ALIVE_S = 30.0  # a process that did not say it is alive for this long is taken for dead
RENEW_S = 2.0
IDLE_S = 0.5  # between looks at an empty spool
MAX_BACKOFF_S = 5.0  # between attempts while Kafka is away
REMIND_EVERY_S = 60.0  # a paused drain says so again this often


class Drainer:
    def __init__(self, spool: Spool, producer: RawProducer, metrics: Metrics) -> None:
        self.spool = spool
        self.producer = producer
        self.metrics = metrics
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing_since: float | None = None
        self._reported_at = 0.0
        self._alive_at = -RENEW_S  # never yet

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="spool-drainer", daemon=True)
            self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
        try:
            self.spool.leave()
        except SpoolUnavailableError:
            pass

    def drain_once(self) -> int:
        """Send one batch if this process holds the lease; the number of records drained."""
        self._keep_alive()
        if self.spool.stats().records == 0:  # a read: an idle spool costs no write, no fsync
            return 0
        if not self.spool.take_lease(LEASE_S):
            return 0
        batch = self.spool.drainable(BATCH)
        if not batch:
            return 0
        started = time.monotonic()
        undelivered = self._send([spooled.record for spooled in batch])
        failed = set(undelivered_of(undelivered, len(batch)))
        delivered = [spooled.id for n, spooled in enumerate(batch) if n not in failed]
        self.spool.delete(delivered)
        self.metrics.spool_drained.inc(len(delivered))
        if delivered:
            logger.info(
                "drained records=%d of %d ids=%d..%d seconds=%.3f",
                len(delivered),
                len(batch),
                batch[0].id,
                batch[-1].id,
                time.monotonic() - started,
            )
        if failed:
            raise KafkaUnavailableError(f"Kafka did not take {len(failed)} of {len(batch)} spooled records")
        return len(delivered)

    def _send(self, records: list[OutRecord]) -> list[int] | None:
        """Send a batch and wait until Kafka decided on each record; the undelivered ones."""
        decided = threading.Event()
        outcome: list[list[int] | None] = []

        def finished(undelivered: list[int] | None) -> None:
            outcome.append(undelivered)
            decided.set()

        try:
            self.producer.send_all(records, late=finished)
            return []
        except KafkaSlowError:
            if not self._wait_decided(decided):
                raise
            return outcome[0]
        except KafkaUnavailableError as exc:
            return exc.undelivered

    def _wait_decided(self, decided: threading.Event) -> bool:
        """Wait for Kafka's answer on a sent batch, keeping the lease; False if stopping first."""
        while not decided.wait(RENEW_S):
            if self._stop.is_set():
                return False
            self._keep_alive()
            self.spool.take_lease(LEASE_S)
        return True

    def _keep_alive(self) -> None:
        """Say this process is alive, at most every RENEW_S (each is an fsynced write)."""
        now = time.monotonic()
        if now - self._alive_at >= RENEW_S:
            self.spool.keep_alive(ALIVE_S)
            self._alive_at = now

    def _run(self) -> None:
        wait = 0.0
        while not self._stop.wait(wait):
            try:
                wait = 0.0 if self.drain_once() else IDLE_S
                self._recovered()
            except KafkaUnavailableError as exc:  # Kafka away, or the spool's disk refusing
                wait = min(MAX_BACKOFF_S, max(1.0, wait * 2))
                self._failing(exc)
            except Exception:  # a bug must not end draining for good
                logger.exception("drainer error; retrying in %.0fs", MAX_BACKOFF_S)
                wait = MAX_BACKOFF_S

    def _failing(self, exc: KafkaUnavailableError) -> None:
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = self._reported_at = now
            logger.warning("spool drain paused, will retry error=%s detail=%s", exc.code, exc.detail)
        elif now - self._reported_at >= REMIND_EVERY_S:
            self._reported_at = now
            logger.warning(
                "spool drain still paused after %.0fs error=%s detail=%s",
                now - self._failing_since,
                exc.code,
                exc.detail,
            )

    def _recovered(self) -> None:
        if self._failing_since is not None:
            logger.info("spool drain resumed after %.1fs", time.monotonic() - self._failing_since)
            self._failing_since = None

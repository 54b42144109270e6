"""Sends spooled records to Kafka, oldest first, and deletes them once Kafka acknowledged them.

Every gateway process runs one drainer thread; the spool's lease lets one of them work at a
time, so two processes never send the same rows. A drainer that dies holding the lease (a
killed process) loses it when it expires, and another process, or the restarted one, goes on
from the oldest row left: rows sent but not yet deleted at the crash are sent once more.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid

from gateway.errors import KafkaUnavailableError, SpoolUnavailableError
from gateway.metrics import Metrics
from gateway.producer import RawProducer
from gateway.spool import Spool

logger = logging.getLogger(__name__)

BATCH = 500
LEASE_MARGIN_S = 15.0  # the lease outlasts the longest send by this much
IDLE_S = 0.5  # between looks at an empty spool
MAX_BACKOFF_S = 5.0  # between attempts while Kafka is away
REMIND_EVERY_S = 60.0  # a paused drain says so again this often


class Drainer:
    def __init__(self, spool: Spool, producer: RawProducer, metrics: Metrics, send_timeout_s: float) -> None:
        self.spool = spool
        self.producer = producer
        self.metrics = metrics
        # a batch is awaited until Kafka has decided (acknowledged or failed), never given up
        # while it may still arrive: resent then, it would arrive twice
        self.send_timeout_s = send_timeout_s
        self.lease_s = send_timeout_s + LEASE_MARGIN_S
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing_since: float | None = None
        self._reported_at = 0.0

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
            self.spool.give_up_lease(self.owner)
        except SpoolUnavailableError:
            pass

    def drain_once(self) -> int:
        """Send one batch if this process holds the lease; the number of records drained."""
        if not self.spool.take_lease(self.owner, self.lease_s):
            return 0
        batch = self.spool.drainable(BATCH)
        if not batch:
            return 0
        started = time.monotonic()
        self.producer.send_all([spooled.record for spooled in batch], timeout_s=self.send_timeout_s)
        self.spool.delete([spooled.id for spooled in batch])
        self.metrics.spool_drained.inc(len(batch))
        logger.info(
            "drained records=%d ids=%d..%d seconds=%.3f",
            len(batch),
            batch[0].id,
            batch[-1].id,
            time.monotonic() - started,
        )
        return len(batch)

    def _run(self) -> None:
        wait = IDLE_S
        while not self._stop.wait(wait):
            try:
                wait = 0.0 if self.drain_once() else IDLE_S
                self._recovered()
            except (KafkaUnavailableError, SpoolUnavailableError) as exc:
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

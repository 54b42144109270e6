"""Where a request's records go: Kafka, or the spool when Kafka does not acknowledge in time.

With the spool on, a request waits ``spool_after_s`` for Kafka's acknowledgement; then its
records are written to the spool (fsynced) and the request is answered 200 all the same. A
send still on its way is left running: when it succeeds its spooled copies are deleted, when
it fails they go to the drainer. With the spool off, or when the spool refuses (full, disk
trouble), the answer is 503 and the provider retries, as without a spool.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Literal

from gateway.errors import KafkaSlowError, KafkaUnavailableError, SpoolUnavailableError
from gateway.producer import OutRecord, RawProducer, undelivered_of
from gateway.spool import Spool

logger = logging.getLogger(__name__)

Outcome = Literal["acknowledged", "spooled"]


class Delivery:
    def __init__(self, producer: RawProducer, spool: Spool | None, spool_after_s: float) -> None:
        self.producer = producer
        self.spool = spool
        self.spool_after_s = spool_after_s

    def deliver(self, records: Sequence[OutRecord], provider: str, request_id: str) -> Outcome:
        """Kafka acknowledged ``records``, or the spool holds them; KafkaUnavailableError if neither."""
        spool = self.spool
        if spool is None:
            self.producer.send_all(records)
            return "acknowledged"
        late = LateSend(spool)
        try:
            self.producer.send_all(records, timeout_s=self.spool_after_s, late=late.finished)
            return "acknowledged"
        except KafkaSlowError as exc:
            if late.delivered_meanwhile():
                return "acknowledged"
            ids = _spool(spool, records, provider, request_id, exc, in_flight=True)
            late.spooled(ids)
        except KafkaUnavailableError as exc:  # decided: spool what Kafka did not take
            undelivered = undelivered_of(exc.undelivered, len(records))
            if undelivered:
                _spool(spool, [records[i] for i in undelivered], provider, request_id, exc, in_flight=False)
        return "spooled"


def _spool(
    spool: Spool,
    records: Sequence[OutRecord],
    provider: str,
    request_id: str,
    cause: KafkaUnavailableError,
    *,
    in_flight: bool,
) -> list[int]:
    try:
        ids = spool.append(records, provider, in_flight)
    except SpoolUnavailableError as exc:
        logger.error(
            "spool write failed, answering 503 request_id=%s provider=%s records=%d error=%s;"
            " check the disk under %s (free space, read-only mount) or set CBSP_GATEWAY_SPOOL_DIR",
            request_id,
            provider,
            len(records),
            exc.detail,
            spool.path.parent,
        )
        raise
    except KafkaUnavailableError as exc:  # full
        logger.warning(
            "spool full, answering 503 request_id=%s provider=%s detail=%s",
            request_id,
            provider,
            exc.detail,
        )
        raise
    logger.info(
        "spooled request_id=%s provider=%s records=%d kafka=%s",
        request_id,
        provider,
        len(records),
        cause.detail,
    )
    return ids


class LateSend:
    """The outcome of a send the request stopped waiting for, and the spool rows it concerns.

    The outcome can arrive (on the producer's thread) before or after the rows are written;
    whichever comes second settles them: the delivered records' rows are deleted, the others
    go to the drainer.
    """

    def __init__(self, spool: Spool) -> None:
        self._spool = spool
        self._lock = threading.Lock()
        self._decided = False
        self._undelivered: list[int] | None = None
        self._ids: list[int] | None = None

    def finished(self, undelivered: list[int] | None) -> None:
        with self._lock:
            self._decided, self._undelivered = True, undelivered
            ids = self._ids
        if ids is not None:
            self._settle(ids, undelivered)

    def delivered_meanwhile(self) -> bool:
        with self._lock:
            return self._decided and self._undelivered == []

    def spooled(self, ids: list[int]) -> None:
        with self._lock:
            self._ids = ids
            decided, undelivered = self._decided, self._undelivered
        if decided:
            self._settle(ids, undelivered)

    def _settle(self, ids: list[int], undelivered: list[int] | None) -> None:
        failed = set(undelivered_of(undelivered, len(ids)))
        try:
            self._spool.delete([id for n, id in enumerate(ids) if n not in failed])
            self._spool.release([id for n, id in enumerate(ids) if n in failed])
        except SpoolUnavailableError as exc:  # in flight until this process is gone, then drained
            logger.warning("spool rows not settled ids=%d..%d error=%s", ids[0], ids[-1], exc.detail)

"""The worker's Faust application, configured from its settings (the patches and everything
declared on it are added by ``streams.wiring``)."""

from __future__ import annotations

import faust

from streams.settings import WorkerSettings

PRODUCER_MAX_BATCH_BYTES = 1_000_000
PRODUCER_LINGER_S = 0.005


def create_app(settings: WorkerSettings) -> faust.App:
    return faust.App(
        settings.app_id,
        broker=settings.broker_urls,
        store="rocksdb://",
        datadir=str(settings.data_dir),
        web_host=settings.web_host,
        web_port=settings.web_port,
        web_bind=settings.web_host,
        canonical_url=f"http://{settings.web_host}:{settings.web_port}",
        processing_guarantee=settings.processing_guarantee,
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        producer_acks=-1,
        # The batch path hands its records over as whole record batches (streams.outbox): a batch may
        # hold up to this much (under the broker's default message.max.bytes of 1,048,588), and the
        # sender waits this long for the other partitions' batches to go in the same request.
        producer_max_batch_size=PRODUCER_MAX_BATCH_BYTES,
        producer_linger=PRODUCER_LINGER_S,
        table_standby_replicas=settings.standby_replicas,
        broker_session_timeout=settings.session_timeout_s,
        consumer_auto_offset_reset=settings.offset_reset,
        broker_heartbeat_interval=settings.heartbeat_interval_s,
        key_serializer="raw",
        value_serializer="raw",
        autodiscover=False,
    )

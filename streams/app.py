"""The one module-level Faust application (Faust needs it); its settings come from the environment."""

from __future__ import annotations

import faust

from streams.settings import WorkerSettings

settings = WorkerSettings.from_env()

app = faust.App(
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
    key_serializer="raw",
    value_serializer="raw",
    autodiscover=False,
)

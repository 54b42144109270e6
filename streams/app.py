"""The one module-level Faust application (Faust needs it); its settings come from the environment."""

from __future__ import annotations

import faust

from streams import eos, restore
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
    broker_session_timeout=settings.session_timeout_s,
    consumer_auto_offset_reset=settings.offset_reset,
    broker_heartbeat_interval=settings.heartbeat_interval_s,
    key_serializer="raw",
    value_serializer="raw",
    TableManager=restore.BulkRestoringTableManager if settings.bulk_restore else "faust.tables:TableManager",
    autodiscover=False,
)
# Before anything asks for it (declaring an agent does): Faust's aiokafka transport with the
# exactly-once fixes of streams.eos.
app.transport = eos.Transport(app.conf.broker_consumer, app)

"""The one place a worker is put together: the Faust app, its patches, topics, tables, agents,
batch path, counters and pages, each handed what it needs; nothing registers itself on import.

The order matters in one way only: the patches go on first, as declaring a table or an agent
asks the app for its table manager and its transport.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from streams import faustpatches, schemaregistry
from streams.agents import install_agents
from streams.app import create_app
from streams.deadletters import DeadLetters
from streams.rawbatches import RawBatches
from streams.settings import WorkerSettings
from streams.status.counters import Counters
from streams.status.pages import install_pages
from streams.tables import Tables, create_tables
from streams.topics import Topics, declare_topics
from streams.views import install_views


@dataclass(frozen=True)
class Worker:
    app: Any  # faust.App
    settings: WorkerSettings
    topics: Topics
    tables: Tables
    counters: Counters
    batch_path: RawBatches


def build_worker(settings: WorkerSettings) -> Worker:
    app = create_app(settings)
    transport = faustpatches.install(app, bulk_restore=settings.bulk_restore)
    topics = declare_topics(app, settings.topics)
    tables = create_tables(app)
    counters = Counters()
    app.monitor = counters.faust_monitor()
    dead_letters = DeadLetters(app, topics.dlq.get_topic_name(), counters)
    wire = schemaregistry.wire_format(settings.schema_registry, settings.topics)  # registers, if set
    batch_path = RawBatches(app, settings, tables, topics, counters, dead_letters, wire)
    transport.batch_reader = batch_path
    install_agents(app, topics)
    install_views(app, tables)
    install_pages(app, counters, tables.message_states, settings.topics)
    return Worker(app, settings, topics, tables, counters, batch_path)

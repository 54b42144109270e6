"""Start a worker: wait for Kafka, create the topics, claim the tables, run the Faust worker."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from schemas.topicadmin import TopicPlan, ensure_topics, wait_until_reachable
from schemas.topicnames import TABLES, changelog
from streams import processes, schemaregistry
from streams.settings import WorkerSettings
from streams.tableclaims import claim_tables
from streams.wiring import build_worker

logger = logging.getLogger(__name__)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="cbsp worker", add_help=True)
    parser.add_argument(
        "--processes",
        type=_positive,
        default=processes.default_count(),
        help="worker processes to run, members of one group (default: the number of cores)",
    )
    known, rest = parser.parse_known_args(argv)
    try:
        if known.processes > 1:
            settings = WorkerSettings.from_env()
            schemaregistry.wire_format(settings.schema_registry, settings.topics)  # fail before forking
            asyncio.run(prepare_topics(settings))
            return processes.supervise(known.processes, rest, settings)
        return _run(rest)
    except schemaregistry.RegistryError as exc:
        logger.error("the worker does not start: %s", exc)
        print(f"cbsp worker: not started: {exc}", file=sys.stderr)
        return 2


def _positive(value: str) -> int:
    count = int(value)
    if count < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {count}")
    return count


def _run(argv: list[str]) -> int:
    settings = WorkerSettings.from_env()
    app = build_worker(settings).app
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # Faust creates only the last level
    asyncio.run(prepare_topics(settings))
    claim_tables(Path(app.conf.tabledir))  # released by a clean stop (streams.faustpatches.transport)
    sys.argv = ["cbsp worker", "worker", "--loglevel", "info", *argv]
    app.main()
    return 0


async def prepare_topics(settings: WorkerSettings, wait_s: float = 60) -> None:
    """The contract's topics and the tables' changelogs, all with the same partition count."""
    await wait_until_reachable(settings.bootstrap_servers, timeout_s=wait_s)
    plan = TopicPlan(settings.partitions, settings.replication_factor, settings.min_insync_replicas)
    changelogs = [changelog(settings.app_id, table) for table in TABLES]
    await ensure_topics(settings.bootstrap_servers, settings.topics, plan, changelogs)

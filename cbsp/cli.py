"""``cbsp`` (also ``python -m cbsp``): one entry point, one subcommand per job."""

from __future__ import annotations

import argparse
import logging
import sys

USAGE = """cbsp <command> [options]

commands:
  gateway      serve the HTTP gateway with gunicorn (production server)
  worker       run a Faust worker (normalize, aggregate, serve table views)
  topics       create the contract's topics (idempotent)
  replay       put a slice of history through normalization again (cbsp replay --help)
  tail         print a topic as JSON lines (Avro decoded): cbsp tail events.status.v1 --from-beginning
  schemas      write the Avro schemas (.avsc) to a folder
  kafka        up | down | status [--nodes N]: the local Kafka (one node, or a cluster of N)
  registry     up | down | status: the local schema registry (Apicurio, Confluent API; in memory)
  dev          run everything for development: local Kafka, one worker, the gateway
"""


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command == "gateway":
        from gateway.server import main as gateway_main

        return gateway_main(rest)
    if command == "worker":
        from streams.worker import main as worker_main

        return worker_main(rest)
    if command == "topics":
        return _topics(rest)
    if command == "replay":
        from cbsp.replay import main as replay_main

        return replay_main(rest)
    if command == "tail":
        from cbsp.tail import main as tail_main

        return tail_main(rest)
    if command == "schemas":
        from cbsp.schemafiles import main as schemas_main

        return schemas_main(rest)
    if command == "kafka":
        from cbsp.kafkacommand import main as kafka_main

        return kafka_main(rest)
    if command == "registry":
        from cbsp.registrycommand import main as registry_main

        return registry_main(rest)
    if command == "dev":
        from cbsp.devrun import main as dev_main

        return dev_main(rest)
    print(f"unknown command {command!r}\n\n{USAGE}", file=sys.stderr)
    return 2


def _topics(argv: list[str]) -> int:
    import asyncio

    from streams.settings import WorkerSettings
    from streams.worker import prepare_topics

    parser = argparse.ArgumentParser(prog="cbsp topics", description="create the contract's topics")
    parser.parse_args(argv)
    asyncio.run(prepare_topics(WorkerSettings.from_env(), wait_s=30))
    print("topics ready")
    return 0

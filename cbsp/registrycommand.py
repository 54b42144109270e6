"""``cbsp registry up|down|status``: the local schema registry (Apicurio Registry, Confluent API)."""

from __future__ import annotations

import argparse
import sys

from cbsp.localregistry import APICURIO_VERSION, COMPATIBILITY, LocalRegistry, LocalRegistryError


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="cbsp registry",
        description="the local Confluent-compatible schema registry (Apicurio Registry "
        f"{APICURIO_VERSION}, built with Maven on first use; in memory: a restart starts empty)",
    )
    parser.add_argument("command", nargs="?", default="status", choices=["up", "down", "status"])
    args = parser.parse_args(argv)
    try:
        registry = LocalRegistry.from_env()
        return _run(args.command, registry)
    except LocalRegistryError as exc:
        print(f"cbsp registry {args.command}: {exc}", file=sys.stderr)
        return 1


def _run(command: str, registry: LocalRegistry) -> int:
    if command == "up":
        started = registry.start()
        print(
            f"Apicurio Registry {APICURIO_VERSION} {'started' if started else 'already running'} "
            f"at {registry.url} (compatibility {COMPATIBILITY}; log: {registry.log_file})"
        )
        return 0
    if command == "down":
        print("schema registry stopped" if registry.stop() else "schema registry was not running")
        return 0
    pid = registry.running_pid()
    print(f"schema registry running pid={pid} at {registry.url}" if pid else "schema registry not running")
    return 0 if pid else 1

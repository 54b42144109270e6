"""``cbsp kafka up|down|status [--nodes N]``: the local development Kafka, one node or a cluster."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from cbsp.localcluster import LocalCluster
from cbsp.localkafka import ENV_HEAP, KAFKA_VERSION, LocalKafka

CLUSTER_HEAP = "384m"  # per node: three of them fit beside the workers on a small machine


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="cbsp kafka", description="the local development Kafka")
    parser.add_argument("command", nargs="?", default="status", choices=["up", "down", "status"])
    parser.add_argument(
        "--nodes",
        type=int,
        default=1,
        help="1: one node on CBSP_KAFKA_PORT (default); N >= 2: a cluster, node n on the ports "
        "CBSP_KAFKA_PORT + 2(n-1) and CBSP_KAFKA_CONTROLLER_PORT + 2(n-1), replication N, "
        "min.insync.replicas 2 (the same --nodes for up, down and status)",
    )
    args = parser.parse_args(argv)
    if args.nodes < 1:
        parser.error(f"--nodes must be at least 1, not {args.nodes}")
    if args.nodes == 1:
        return _single(args.command, LocalKafka.from_env())
    return _cluster(args.command, cluster_from_env(args.nodes))


def cluster_from_env(nodes: int) -> LocalCluster:
    """``nodes`` nodes in ``<CBSP_KAFKA_HOME>/cluster-<nodes>``, ports counted up from the single node's."""
    base = LocalKafka.from_env()
    ports = [(base.port + 2 * n, base.controller_port + 2 * n) for n in range(nodes)]
    heap = os.environ.get(ENV_HEAP, CLUSTER_HEAP)
    return LocalCluster.create(Path(base.home) / f"cluster-{nodes}", base.cache, ports, heap=heap)


def _single(command: str, broker: LocalKafka) -> int:
    if command == "up":
        started = broker.start()
        print(
            f"Kafka {KAFKA_VERSION} {'started' if started else 'already running'} "
            f"at {broker.bootstrap_servers} (data: {broker.home})"
        )
        return 0
    if command == "down":
        print("Kafka stopped" if broker.stop() else "Kafka was not running")
        return 0
    pid = broker.running_pid()
    print(f"Kafka running pid={pid} at {broker.bootstrap_servers}" if pid else "Kafka not running")
    return 0 if pid else 1


def _cluster(command: str, cluster: LocalCluster) -> int:
    nodes = len(cluster.nodes)
    if command == "up":
        started = cluster.start()
        print(
            f"Kafka {KAFKA_VERSION} cluster of {nodes} nodes at {cluster.bootstrap_servers} "
            f"(started nodes {started or 'none: all were running'}; data: {cluster.nodes[0].home.parent})"
        )
        return 0
    if command == "down":
        stopped = cluster.stop()
        print(f"Kafka nodes {stopped} stopped" if stopped else "no Kafka node was running")
        return 0
    running = {node.membership.node_id: node.running_pid() for node in cluster.nodes}
    for node_id, pid in running.items():
        print(f"node {node_id}: running pid={pid}" if pid else f"node {node_id}: not running")
    return 0 if all(running.values()) else 1

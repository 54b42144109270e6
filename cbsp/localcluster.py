"""A real Kafka cluster of several KRaft nodes on loopback, each a :class:`LocalKafka`.

Every node is broker and controller; the controllers form one static quorum
(``controller.quorum.voters`` names them all, every data dir is formatted with the same
cluster id). Topics get the cluster's replication: by default every node holds a replica
and a write is acknowledged once two of them have it, so one node may die without an
acknowledged record being lost or writes stopping.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from cbsp.localkafka import LocalKafka, LocalKafkaError, Membership, new_cluster_id

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LocalCluster:
    """Nodes ``1..N`` of one cluster; node ``n``'s files are in ``<home>/node-<n>``."""

    nodes: tuple[LocalKafka, ...]

    @classmethod
    def create(
        cls,
        home: Path,
        cache: Path,
        ports: Sequence[tuple[int, int]],
        heap: str = "384m",
        min_insync_replicas: int = 2,
    ) -> LocalCluster:
        """A cluster with one node per (broker port, controller port); replication factor = nodes.

        A cluster formatted before keeps its id, so that its nodes can be started again.
        """
        if len(ports) < 2:
            raise LocalKafkaError(f"a cluster needs at least 2 nodes, not {len(ports)}")
        used = [port for pair in ports for port in pair]
        if len(set(used)) != len(used):
            raise LocalKafkaError(f"every node needs its own two ports: {list(ports)}")
        voters = tuple((node_id, controller) for node_id, (_, controller) in enumerate(ports, start=1))
        cluster_id = formatted_cluster_id(home) or new_cluster_id()
        return cls(
            tuple(
                LocalKafka(
                    home=home / f"node-{node_id}",
                    cache=cache,
                    port=port,
                    controller_port=controller,
                    heap=heap,
                    membership=Membership(
                        node_id, voters, cluster_id, len(ports), min(min_insync_replicas, len(ports))
                    ),
                )
                for node_id, (port, controller) in enumerate(ports, start=1)
            )
        )

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(node.bootstrap_servers for node in self.nodes)

    def node(self, node_id: int) -> LocalKafka:
        for node in self.nodes:
            if node.membership.node_id == node_id:
                return node
        raise LocalKafkaError(f"no node {node_id} in this cluster (nodes 1..{len(self.nodes)})")

    def start(self, timeout_s: float = 120.0) -> list[int]:
        """Start the nodes that do not run, wait until every broker is registered in the
        cluster; returns the ids of the nodes this call started. On failure all are stopped."""
        launched = {n.membership.node_id: n.launch() for n in self.nodes if n.running_pid() is None}
        try:
            deadline = time.monotonic() + timeout_s
            for node_id, process in launched.items():
                self.node(node_id).wait_ready(process, max(1.0, deadline - time.monotonic()))
            self.wait_registered(max(1.0, deadline - time.monotonic()))
        except BaseException:
            self.stop()
            raise
        return list(launched)

    def wait_registered(self, timeout_s: float = 60.0, nodes: int | None = None) -> None:
        """Wait until the cluster's metadata names ``nodes`` live brokers (default: all)."""
        wanted = len(self.nodes) if nodes is None else nodes
        deadline = time.monotonic() + timeout_s
        seen: list[int] = []
        while time.monotonic() < deadline:
            seen = asyncio.run(live_brokers(self.bootstrap_servers))
            if len(seen) == wanted:
                return
            time.sleep(0.5)
        raise LocalKafkaError(
            f"the cluster names brokers {seen}, not {wanted} of them, after {timeout_s:.0f}s"
        )

    def stop(self, timeout_s: float = 30.0) -> list[int]:
        """SIGTERM to every node at once (one by one, the last ones would wait for a quorum
        that is gone), then wait for each; returns the ids of the nodes that were running."""
        pids = {node: node.signal(signal.SIGTERM) for node in self.nodes}
        for node, pid in pids.items():
            if pid is not None:
                node.wait_stopped(pid, timeout_s)
        return [node.membership.node_id for node, pid in pids.items() if pid is not None]


def formatted_cluster_id(home: Path) -> str:
    """The cluster id a node under ``home`` was formatted with; empty if none was."""
    for meta in sorted(home.glob("node-*/data/meta.properties")):
        for line in meta.read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "cluster.id" and value.strip():
                return value.strip()
    return ""


async def live_brokers(bootstrap_servers: str) -> list[int]:
    """The node ids of the brokers the cluster's metadata names; empty if it does not answer."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=3000)
    try:
        await admin.start()
        described = await admin.describe_cluster()
    except (KafkaError, OSError):
        return []
    finally:
        await admin.close()
    return sorted(broker["node_id"] for broker in described["brokers"])

"""A three-node Kafka cluster of the fault tests' own (free ports, a temporary folder, the
jars of the local broker): replication factor 3, min.insync.replicas 2. Started once for the
session, when a test first asks for it; every node is running again after each test, and
all are stopped at the end, also when a test fails."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cbsp.localcluster import LocalCluster
from cbsp.localkafka import LocalKafka, LocalKafkaError
from tests.integration.pipeline import free_port

NODES = 3


@pytest.fixture(scope="session")
def kafka_cluster(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """Three nodes on free ports, after the session's broker (``kafka_bootstrap``) holds its own:
    a free port picked first could be the one that broker is configured to listen on."""
    cluster = LocalCluster.create(
        tmp_path_factory.mktemp("cluster"),
        LocalKafka.from_env().cache,
        [(free_port(), free_port()) for _ in range(NODES)],
        heap="320m",
    )
    try:
        cluster.start()
    except LocalKafkaError as exc:
        pytest.fail(f"the three-node cluster did not start: {exc}", pytrace=False)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def cluster(kafka_cluster: LocalCluster) -> Iterator[LocalCluster]:
    """The session's cluster, all nodes running; a node the test stopped or killed is
    started again afterwards."""
    kafka_cluster.start()
    yield kafka_cluster
    kafka_cluster.start()

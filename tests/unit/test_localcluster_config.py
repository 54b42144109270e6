"""The local Kafka's configuration: one node alone, and nodes of a three-node cluster; the
replication the topics are created with."""

from __future__ import annotations

from pathlib import Path

import pytest

from cbsp.kafkacommand import cluster_from_env
from cbsp.kafkacommand import main as kafka_command
from cbsp.localcluster import LocalCluster
from cbsp.localkafka import LocalKafka, LocalKafkaError, Membership
from schemas.topicadmin import TopicPlan, topic_specs
from schemas.topicnames import TopicNames
from streams.settings import WorkerSettings

PORTS = [(41001, 41002), (41003, 41004), (41005, 41006)]


def properties(node: LocalKafka) -> dict[str, str]:
    lines = node.server_properties().splitlines()
    return dict(line.split("=", 1) for line in lines)


def test_a_single_node_is_its_own_quorum_with_replication_1(tmp_path: Path) -> None:
    node = properties(LocalKafka(home=tmp_path, cache=tmp_path, port=39092, controller_port=39093))

    assert node["node.id"] == "1"
    assert node["controller.quorum.voters"] == "1@127.0.0.1:39093"
    assert node["listeners"] == "PLAINTEXT://127.0.0.1:39092,CONTROLLER://127.0.0.1:39093"
    for key in (
        "default.replication.factor",
        "min.insync.replicas",
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
    ):
        assert node[key] == "1", key


def test_every_node_of_a_cluster_names_all_controllers_and_has_its_own_ports_and_data(
    tmp_path: Path,
) -> None:
    cluster = LocalCluster.create(tmp_path, tmp_path / "jars", PORTS)
    nodes = [properties(node) for node in cluster.nodes]

    assert [node["node.id"] for node in nodes] == ["1", "2", "3"]
    voters = "1@127.0.0.1:41002,2@127.0.0.1:41004,3@127.0.0.1:41006"
    assert {node["controller.quorum.voters"] for node in nodes} == {voters}
    assert [node["advertised.listeners"] for node in nodes] == [
        f"PLAINTEXT://127.0.0.1:{port}" for port, _ in PORTS
    ]
    assert [node["log.dirs"] for node in nodes] == [str(tmp_path / f"node-{n}" / "data") for n in (1, 2, 3)]
    assert cluster.bootstrap_servers == "127.0.0.1:41001,127.0.0.1:41003,127.0.0.1:41005"
    assert len({node.membership.cluster_id for node in cluster.nodes}) == 1


def test_a_cluster_replicates_every_topic_three_times_and_acknowledges_after_two(tmp_path: Path) -> None:
    for node in (properties(n) for n in LocalCluster.create(tmp_path, tmp_path, PORTS).nodes):
        assert node["default.replication.factor"] == "3"
        assert node["min.insync.replicas"] == "2"
        assert node["offsets.topic.replication.factor"] == "3"
        assert node["transaction.state.log.replication.factor"] == "3"
        assert node["transaction.state.log.min.isr"] == "2"
        assert node["share.coordinator.state.topic.replication.factor"] == "3"
        assert node["share.coordinator.state.topic.min.isr"] == "2"


def test_a_cluster_formatted_before_keeps_its_id(tmp_path: Path) -> None:
    data = tmp_path / "node-2" / "data"
    data.mkdir(parents=True)
    (data / "meta.properties").write_text("node.id=2\ncluster.id=AbCdEfGhIjKlMnOpQrStUv\nversion=1\n")

    cluster = LocalCluster.create(tmp_path, tmp_path, PORTS)

    assert {node.membership.cluster_id for node in cluster.nodes} == {"AbCdEfGhIjKlMnOpQrStUv"}


def test_a_cluster_node_is_found_by_id(tmp_path: Path) -> None:
    cluster = LocalCluster.create(tmp_path, tmp_path, PORTS)
    assert cluster.node(2).port == 41003
    with pytest.raises(LocalKafkaError, match=r"no node 4 in this cluster \(nodes 1..3\)"):
        cluster.node(4)


@pytest.mark.parametrize(
    ("ports", "error"),
    [
        ([(41001, 41002)], "a cluster needs at least 2 nodes, not 1"),
        ([(41001, 41002), (41001, 41004)], "every node needs its own two ports"),
    ],
)
def test_a_cluster_refuses_bad_ports(tmp_path: Path, ports: list[tuple[int, int]], error: str) -> None:
    with pytest.raises(LocalKafkaError, match=error):
        LocalCluster.create(tmp_path, tmp_path, ports)


@pytest.mark.parametrize(
    ("membership", "error"),
    [
        (dict(node_id=4, voters=((1, 1), (2, 2))), r"node 4 is not among the controllers \[1, 2\]"),
        (dict(node_id=1, voters=((1, 1), (1, 2))), r"controller node ids must differ: \[1, 1\]"),
        (dict(replication_factor=2), r"replication factor \(2\) <= nodes \(1\)"),
        (
            dict(voters=((1, 1), (2, 2), (3, 3)), replication_factor=3, min_insync_replicas=4),
            r"min.insync.replicas \(4\) <= replication factor \(3\)",
        ),
    ],
)
def test_a_membership_that_cannot_work_is_refused(membership: dict[str, object], error: str) -> None:
    with pytest.raises(LocalKafkaError, match=error):
        Membership(**membership)  # type: ignore[arg-type]


def test_topics_are_created_with_the_plans_replication_and_min_insync_replicas() -> None:
    specs = topic_specs(TopicNames("x."), TopicPlan(4, 3, 2), changelogs=["app-table-changelog"])

    assert {(s.replication_factor, s.topic_configs["min.insync.replicas"]) for s in specs} == {(3, "2")}
    compacted = {s.name for s in specs if s.topic_configs.get("cleanup.policy") == "compact"}
    assert {"x.state.message.v1", "app-table-changelog"} <= compacted  # the plan adds, never replaces


def test_without_min_insync_replicas_topics_get_the_brokers_default() -> None:
    specs = topic_specs(TopicNames(), TopicPlan(8, 1))
    assert not any("min.insync.replicas" in s.topic_configs for s in specs)


@pytest.mark.parametrize(
    ("plan", "error"),
    [
        (dict(partitions=0), "partitions must be at least 1, not 0"),
        (dict(replication_factor=0), "replication factor must be at least 1, not 0"),
        (
            dict(replication_factor=3, min_insync_replicas=4),
            r"min.insync.replicas must be between 1 and the replication factor \(3\), not 4",
        ),
    ],
)
def test_a_topic_plan_that_cannot_work_is_refused(plan: dict[str, int], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        TopicPlan(**plan)


def test_the_worker_reads_replication_and_min_insync_replicas() -> None:
    settings = WorkerSettings.from_env({"CBSP_REPLICATION_FACTOR": "3", "CBSP_MIN_INSYNC_REPLICAS": "2"})
    assert (settings.replication_factor, settings.min_insync_replicas) == (3, 2)
    assert WorkerSettings.from_env({}).min_insync_replicas is None


def test_cbsp_kafka_nodes_counts_ports_up_from_the_single_nodes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CBSP_KAFKA_HOME", str(tmp_path))
    monkeypatch.setenv("CBSP_KAFKA_PORT", "40000")
    monkeypatch.setenv("CBSP_KAFKA_CONTROLLER_PORT", "40001")
    monkeypatch.delenv("CBSP_KAFKA_HEAP", raising=False)

    cluster = cluster_from_env(3)

    assert [(node.port, node.controller_port) for node in cluster.nodes] == [
        (40000, 40001),
        (40002, 40003),
        (40004, 40005),
    ]
    assert {node.home.parent for node in cluster.nodes} == {tmp_path / "cluster-3"}
    assert {node.heap for node in cluster.nodes} == {"384m"}


def test_cbsp_kafka_refuses_a_node_count_below_one(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        kafka_command(["up", "--nodes", "0"])
    assert exited.value.code == 2
    assert "--nodes must be at least 1, not 0" in capsys.readouterr().err

"""A real Kafka broker for the session: KAFKA_BOOTSTRAP_SERVERS if set; else testcontainers'
Kafka (apache/kafka image) when a Docker engine answers; else the project's local broker
(Maven Central jars, cbsp.localkafka), started here and stopped at the end if started here.

There is no skip: a test that needs Kafka and cannot get it fails, with the reason.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from cbsp.localkafka import KAFKA_VERSION, LocalKafka, LocalKafkaError


def docker_engine_answers() -> bool:
    """Whether a Docker engine answers ``GET /_ping`` on its local socket (the client alone is not enough)."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://") or not os.path.exists(host[len("unix://") :]):
        return host.startswith("tcp://")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(3)
        try:
            sock.connect(host[len("unix://") :])
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            return b" 200 " in sock.recv(256)
        except OSError:
            return False


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        yield configured
        return
    if docker_engine_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer(f"apache/kafka:{KAFKA_VERSION}").with_kraft() as container:
            yield container.get_bootstrap_server()
        return
    broker = LocalKafka.from_env()
    try:
        started = broker.start()
    except LocalKafkaError as exc:
        pytest.fail(f"no Kafka broker for the tests: {exc}", pytrace=False)
    yield broker.bootstrap_servers
    if started:
        broker.stop()


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[LocalKafka]:
    """A single-node broker of the test's own, on free ports, not started yet: the test may stop
    and start it (the session's broker is never stopped)."""
    from tests.integration.pipeline import free_port

    broker = LocalKafka(
        home=tmp_path / "kafka",
        cache=LocalKafka.from_env().cache,
        port=free_port(),
        controller_port=free_port(),
        heap="384m",
    )
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def schema_registry_url() -> Iterator[str]:
    """A Confluent-compatible schema registry's API base URL: CBSP_TEST_SCHEMA_REGISTRY_URL if set;
    else the project's local one (Apicurio, cbsp.localregistry; built on first use), started here
    and stopped at the end if started here. No skip: a registry that cannot start fails the test."""
    from cbsp.localregistry import LocalRegistry, LocalRegistryError

    configured = os.environ.get("CBSP_TEST_SCHEMA_REGISTRY_URL")
    if configured:
        yield configured.rstrip("/")
        return
    try:
        registry = LocalRegistry.from_env()
        started = registry.start()
    except LocalRegistryError as exc:
        pytest.fail(f"no schema registry for the tests: {exc}", pytrace=False)
    yield registry.url
    if started:
        registry.stop()

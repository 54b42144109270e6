"""A real Apache Kafka (KRaft) node on loopback, from Maven Central jars.

For machines without Docker: Maven resolves the broker's jars (plus a log4j2
binding) into a cache folder, and the broker runs with ``java`` exactly as the
official start script runs it. Everything is idempotent: jars are resolved once,
a formatted data dir is reused, a broker that already runs is left running.

A node is a single-node cluster by default; with a :class:`Membership` it is one of
several (``cbsp.localcluster`` starts three of them as one cluster).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cbsp.javaservice import PidFile, log_tail
from schemas.topicadmin import wait_until_reachable

logger = logging.getLogger(__name__)

DEFAULT_KAFKA_VERSION = "4.4.0"
LOG4J_VERSION = "2.24.3"

ENV_VERSION = "CBSP_KAFKA_VERSION"
ENV_HOME = "CBSP_KAFKA_HOME"
ENV_CACHE = "CBSP_CACHE_DIR"
ENV_PORT = "CBSP_KAFKA_PORT"
ENV_CONTROLLER_PORT = "CBSP_KAFKA_CONTROLLER_PORT"
ENV_HEAP = "CBSP_KAFKA_HEAP"

POM_TEMPLATE = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.cbsp</groupId>
  <artifactId>kafka-local</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
      <version>{kafka}</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId>
      <version>{kafka}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId>
      <version>{log4j}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId>
      <version>{log4j}</version></dependency>
  </dependencies>
</project>
"""

LOG4J2_TEMPLATE = """status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.org.name = org.apache.kafka
logger.org.level = INFO
"""


def kafka_version(env: Mapping[str, str] | None = None) -> str:
    """The Apache Kafka release to run: ``CBSP_KAFKA_VERSION``, else :data:`DEFAULT_KAFKA_VERSION`."""
    version = (os.environ if env is None else env).get(ENV_VERSION) or DEFAULT_KAFKA_VERSION
    if not re.fullmatch(r"\d+\.\d+\.\d+", version):
        raise ValueError(f"{ENV_VERSION} must be an Apache Kafka release such as 4.4.0, not {version!r}")
    return version


KAFKA_VERSION = kafka_version()


class LocalKafkaError(RuntimeError):
    """The local broker could not be set up, started or stopped."""


@dataclass(frozen=True)
class Membership:
    """A node's place in its cluster and the replication the cluster gives its topics.

    The default is a cluster of this node alone. In a cluster of several, every node names
    the same controllers (``voters``: node id and controller port, a static KRaft quorum)
    and is formatted with the same ``cluster_id``.
    """

    node_id: int = 1
    voters: tuple[tuple[int, int], ...] = ()  # empty: this node is the only controller
    cluster_id: str = ""  # empty: a new random id when the data dir is formatted
    replication_factor: int = 1  # of the internal topics and of topics created without one
    min_insync_replicas: int = 1

    def __post_init__(self) -> None:
        ids = [node_id for node_id, _ in self.voters]
        if self.voters and self.node_id not in ids:
            raise LocalKafkaError(f"node {self.node_id} is not among the controllers {ids}")
        if len(set(ids)) != len(ids):
            raise LocalKafkaError(f"controller node ids must differ: {ids}")
        if not 1 <= self.min_insync_replicas <= self.replication_factor <= max(1, len(self.voters)):
            raise LocalKafkaError(
                f"need 1 <= min.insync.replicas ({self.min_insync_replicas}) <= replication factor "
                f"({self.replication_factor}) <= nodes ({max(1, len(self.voters))})"
            )


@dataclass(frozen=True)
class LocalKafka:
    """One KRaft node (broker and controller): jars in ``cache``; data, config, log, pid in ``home``."""

    home: Path
    cache: Path
    port: int = 39092
    controller_port: int = 39093
    heap: str = "1g"
    partitions: int = 8
    membership: Membership = Membership()

    @classmethod
    def from_env(cls) -> LocalKafka:
        cache_root = os.environ.get(ENV_CACHE) or str(Path.home() / ".cache" / "cbsp")
        return cls(
            home=Path(os.environ.get(ENV_HOME, ".kafka")).resolve(),
            cache=Path(cache_root) / f"kafka-{KAFKA_VERSION}",
            port=int(os.environ.get(ENV_PORT, "39092")),
            controller_port=int(os.environ.get(ENV_CONTROLLER_PORT, "39093")),
            heap=os.environ.get(ENV_HEAP, "1g"),
        )

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def libs(self) -> Path:
        return self.cache / "libs"

    @property
    def pid_file(self) -> Path:
        return self.home / "broker.pid"

    @property
    def service(self) -> PidFile:
        return PidFile(self.pid_file, b"kafka.Kafka", "broker")

    @property
    def log_file(self) -> Path:
        return self.home / "server.log"

    # -- jars ---------------------------------------------------------------

    def resolve_jars(self) -> Path:
        """Resolve the broker's runtime jars with Maven, once; returns the jar folder."""
        marker = self.libs / ".complete"
        if marker.exists():
            return self.libs
        if shutil.which("mvn") is None:
            raise LocalKafkaError(
                "Maven (mvn) is not on PATH: install Maven and Java 17+, "
                "or set KAFKA_BOOTSTRAP_SERVERS to use a broker you run yourself"
            )
        self.cache.mkdir(parents=True, exist_ok=True)
        pom = self.cache / "pom.xml"
        pom.write_text(POM_TEMPLATE.format(kafka=KAFKA_VERSION, log4j=LOG4J_VERSION))
        logger.info("resolving Apache Kafka %s jars with Maven into %s", KAFKA_VERSION, self.libs)
        result = subprocess.run(
            [
                "mvn",
                "-B",
                "-q",
                "-f",
                str(pom),
                "dependency:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={self.libs}",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise LocalKafkaError(
                f"Maven could not resolve Kafka {KAFKA_VERSION}:\n"
                f"{result.stdout[-3000:]}{result.stderr[-2000:]}"
            )
        marker.write_text(KAFKA_VERSION)
        return self.libs

    # -- config and storage -------------------------------------------------

    def server_properties(self) -> str:
        member = self.membership
        voters = member.voters or ((member.node_id, self.controller_port),)
        replicas, min_isr = str(member.replication_factor), str(member.min_insync_replicas)
        settings = {
            "process.roles": "broker,controller",
            "node.id": str(member.node_id),
            "controller.quorum.voters": ",".join(f"{n}@127.0.0.1:{port}" for n, port in voters),
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.home / "data"),
            "num.partitions": str(self.partitions),
            "default.replication.factor": replicas,
            "min.insync.replicas": min_isr,
            "offsets.topic.replication.factor": replicas,
            "offsets.topic.num.partitions": "8",
            "transaction.state.log.replication.factor": replicas,
            "transaction.state.log.min.isr": min_isr,
            "transaction.state.log.num.partitions": "8",
            "share.coordinator.state.topic.replication.factor": replicas,
            "share.coordinator.state.topic.min.isr": min_isr,
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "true",
        }
        return "".join(f"{key}={value}\n" for key, value in settings.items())

    def _java(self, *args: str, heap: str = "256m") -> list[str]:
        java = shutil.which("java")
        if java is None:
            raise LocalKafkaError("Java (java) is not on PATH: install OpenJDK 17 or newer")
        return [
            java,
            f"-Xms{heap}",
            f"-Xmx{heap}",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.home / 'log4j2.properties'}",
            "-cp",
            f"{self.libs}/*",
            *args,
        ]

    def prepare(self) -> None:
        """Resolve jars, write the configs, format the data dir (all idempotent)."""
        self.resolve_jars()
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "server.properties").write_text(self.server_properties())
        (self.home / "log4j2.properties").write_text(LOG4J2_TEMPLATE.format(log=self.log_file))
        if (self.home / "data" / "meta.properties").exists():
            return
        cluster_id = self.membership.cluster_id or new_cluster_id()
        result = subprocess.run(
            self._java(
                "kafka.tools.StorageTool",
                "format",
                f"--cluster-id={cluster_id}",  # one form also when the id begins with "-"
                "-c",
                str(self.home / "server.properties"),
                "--ignore-formatted",
            ),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise LocalKafkaError(f"formatting {self.home / 'data'} failed:\n{result.stdout}{result.stderr}")

    # -- process ------------------------------------------------------------

    def running_pid(self) -> int | None:
        """The pid of this broker if it runs, else None."""
        return self.service.running_pid()

    def start(self, timeout_s: float = 90.0) -> bool:
        """Start the broker unless it runs; wait until it answers. True if this call started it."""
        if self.running_pid() is not None:
            asyncio.run(wait_until_reachable(self.bootstrap_servers, timeout_s))
            return False
        process = self.launch()
        try:
            self.wait_ready(process, timeout_s)
        except BaseException:
            self.stop()
            raise
        return True

    def launch(self) -> subprocess.Popen[bytes]:
        """Prepare and start the broker process without waiting for it (a node of a cluster
        answers only once a majority of the controllers runs)."""
        self.prepare()
        with open(self.home / "stdout.log", "ab") as out:
            process = subprocess.Popen(
                self._java("kafka.Kafka", str(self.home / "server.properties"), heap=self.heap),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.service.record(process)
        logger.info(
            "starting Kafka %s node=%d pid=%d bootstrap=%s",
            KAFKA_VERSION,
            self.membership.node_id,
            process.pid,
            self.bootstrap_servers,
        )
        return process

    def wait_ready(self, process: subprocess.Popen[bytes], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise LocalKafkaError(
                    f"the broker exited with code {process.returncode} while starting; "
                    f"last lines of {self.log_file}:\n{self.log_tail()}"
                )
            try:
                asyncio.run(wait_until_reachable(self.bootstrap_servers, 2.0))
                return
            except TimeoutError:
                continue
        raise LocalKafkaError(
            f"the broker did not answer on {self.bootstrap_servers} within {timeout_s:.0f}s; "
            f"last lines of {self.log_file}:\n{self.log_tail()}"
        )

    def stop(self, timeout_s: float = 30.0) -> bool:
        """Stop the broker with SIGTERM (SIGKILL after the timeout). True if one was running."""
        return self.service.stop(timeout_s)

    def kill(self) -> bool:
        """Kill the broker with SIGKILL: no clean shutdown, as a crash. True if one was running."""
        pid = self.signal(signal.SIGKILL)
        if pid is not None:
            self.wait_stopped(pid, timeout_s=10.0)
        return pid is not None

    def signal(self, sig: signal.Signals) -> int | None:
        """Send ``sig`` to the broker; its pid, or None (and no pid file left) if none runs."""
        return self.service.signal(sig)

    def wait_stopped(self, pid: int, timeout_s: float) -> None:
        """Wait until the broker ``pid`` has exited; SIGKILL it after ``timeout_s``."""
        self.service.wait_stopped(pid, timeout_s)

    def log_tail(self, lines: int = 20) -> str:
        """The first errors of the log (the cause, e.g. a port in use), then its last lines."""
        return log_tail([self.log_file, self.home / "stdout.log"], lines)


def new_cluster_id() -> str:
    """16 random bytes, URL-safe base64 without padding (what ``StorageTool random-uuid`` makes)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")

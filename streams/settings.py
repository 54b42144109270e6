"""Worker settings, from the environment (names shared with the gateway where they mean the same)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from schemas.topicnames import TopicNames
from streams.canonical import NormalizeOptions
from streams.schemaregistry import RegistrySettings

ENV_BOOTSTRAP = "KAFKA_BOOTSTRAP_SERVERS"
ENV_TOPIC_PREFIX = "CBSP_TOPIC_PREFIX"
ENV_APP_ID = "CBSP_WORKER_APP_ID"
ENV_DATA_DIR = "CBSP_WORKER_DATA_DIR"
ENV_WEB_HOST = "CBSP_WORKER_WEB_HOST"
ENV_WEB_PORT = "CBSP_WORKER_WEB_PORT"
ENV_PARTITIONS = "CBSP_PARTITIONS"
ENV_REPLICATION = "CBSP_REPLICATION_FACTOR"
ENV_MIN_INSYNC = "CBSP_MIN_INSYNC_REPLICAS"
ENV_GUARANTEE = "CBSP_PROCESSING_GUARANTEE"
ENV_EDNA_RATE_CURRENCY = "CBSP_EDNA_RATE_CURRENCY"
ENV_SESSION_TIMEOUT = "CBSP_WORKER_SESSION_TIMEOUT_S"
ENV_OFFSET_RESET = "CBSP_WORKER_OFFSET_RESET"
ENV_BULK_RESTORE = "CBSP_WORKER_BULK_RESTORE"
ENV_STANDBY_REPLICAS = "CBSP_WORKER_STANDBY_REPLICAS"

DEFAULT_BOOTSTRAP = "127.0.0.1:39092"


@dataclass(frozen=True)
class WorkerSettings:
    bootstrap_servers: str = DEFAULT_BOOTSTRAP
    topics: TopicNames = TopicNames()
    app_id: str = "cbsp"
    data_dir: Path = Path(".cbsp/worker")
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    partitions: int = 8
    replication_factor: int = 1
    min_insync_replicas: int | None = None  # None: the broker's min.insync.replicas
    processing_guarantee: str = "exactly_once"  # Kafka transactions, as fixed in streams.faustpatches
    normalize_options: NormalizeOptions = NormalizeOptions()
    # how long the group waits for a silent worker before giving its partitions to the others
    session_timeout_s: float = 30.0
    # where a new consumer group starts: earliest (all history) or latest (a new app version
    # that reads live traffic from now on and is backfilled with `cbsp replay`)
    offset_reset: str = "earliest"
    # tables restored by streams.faustpatches.restore (in bulk) instead of Faust's one-record-at-a-time loop
    bulk_restore: bool = True
    # warm copies of each table partition kept by other members of the group, read from the
    # changelogs as they are written. 0 (as Kafka Streams' num.standby.replicas): Faust applies a
    # standby's changelog one record at a time, which took up to a third of each of two processes'
    # CPU in the benchmark; a partition that moves is restored in bulk instead (docs/architecture.md)
    standby_replicas: int = 0
    # None: Avro single-object encoding; set: the Confluent wire format, ids from this registry
    schema_registry: RegistrySettings | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WorkerSettings:
        env = os.environ if env is None else env
        guarantee = env.get(ENV_GUARANTEE, "exactly_once")
        if guarantee not in ("at_least_once", "exactly_once"):
            raise ValueError(f"{ENV_GUARANTEE} must be at_least_once or exactly_once, not {guarantee!r}")
        return cls(
            bootstrap_servers=env.get(ENV_BOOTSTRAP, DEFAULT_BOOTSTRAP),
            topics=TopicNames(env.get(ENV_TOPIC_PREFIX, "")),
            app_id=env.get(ENV_APP_ID, "cbsp"),
            data_dir=Path(env.get(ENV_DATA_DIR, ".cbsp/worker")),
            web_host=env.get(ENV_WEB_HOST, "127.0.0.1"),
            web_port=int(env.get(ENV_WEB_PORT, "6066")),
            partitions=int(env.get(ENV_PARTITIONS, "8")),
            replication_factor=int(env.get(ENV_REPLICATION, "1")),
            min_insync_replicas=int(env[ENV_MIN_INSYNC]) if env.get(ENV_MIN_INSYNC) else None,
            processing_guarantee=guarantee,
            session_timeout_s=float(env.get(ENV_SESSION_TIMEOUT, "30")),
            offset_reset=_offset_reset(env.get(ENV_OFFSET_RESET, "earliest")),
            bulk_restore=_switch(ENV_BULK_RESTORE, env.get(ENV_BULK_RESTORE, "true")),
            standby_replicas=_count(ENV_STANDBY_REPLICAS, env.get(ENV_STANDBY_REPLICAS, "0")),
            schema_registry=RegistrySettings.from_env(env),
            normalize_options=NormalizeOptions(
                edna_rate_currency=(env.get(ENV_EDNA_RATE_CURRENCY) or "").upper() or None
            ),
        )

    @property
    def heartbeat_interval_s(self) -> float:
        """Heartbeats well inside the session timeout (Kafka's rule of thumb: a third at most)."""
        return min(3.0, self.session_timeout_s / 10)

    @property
    def broker_urls(self) -> list[str]:
        return [f"kafka://{server.strip()}" for server in self.bootstrap_servers.split(",")]


def _switch(name: str, value: str) -> bool:
    if value.lower() not in ("true", "false"):
        raise ValueError(f"{name} must be true or false, not {value!r}")
    return value.lower() == "true"


def _count(name: str, value: str) -> int:
    if not value.strip().isdigit():
        raise ValueError(f"{name} must be a whole number, 0 or more, not {value!r}")
    return int(value)


def _offset_reset(value: str) -> str:
    if value not in ("earliest", "latest"):
        raise ValueError(f"{ENV_OFFSET_RESET} must be earliest or latest, not {value!r}")
    return value

"""Create the contract's topics up front, with the partition counts the tables rely on.

Faust ignores a source topic that does not exist when it subscribes, and a topic
that a producer auto-creates gets the broker's default partition count, which may
not match the tables' changelogs. So topics are created explicitly, before the
gateway or a worker uses them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from schemas.topicnames import TopicNames

logger = logging.getLogger(__name__)

RAW_RETENTION_MS = str(90 * 24 * 3600 * 1000)  # the raw topics are the replay source


@dataclass(frozen=True)
class TopicPlan:
    """How every topic is created: partitions, replicas, and how many replicas must have a
    record before it is acknowledged (``None``: the broker's ``min.insync.replicas``)."""

    partitions: int = 8
    replication_factor: int = 1
    min_insync_replicas: int | None = None

    def __post_init__(self) -> None:
        if self.partitions < 1:
            raise ValueError(f"partitions must be at least 1, not {self.partitions}")
        if self.replication_factor < 1:
            raise ValueError(f"replication factor must be at least 1, not {self.replication_factor}")
        isr = self.min_insync_replicas
        if isr is not None and not 1 <= isr <= self.replication_factor:
            raise ValueError(
                f"min.insync.replicas must be between 1 and the replication factor "
                f"({self.replication_factor}), not {isr}"
            )

    def configs(self, configs: dict[str, str] | None = None) -> dict[str, str]:
        """A topic's configs with this plan's ``min.insync.replicas`` added (if it sets one)."""
        isr = (
            {} if self.min_insync_replicas is None else {"min.insync.replicas": str(self.min_insync_replicas)}
        )
        return {**(configs or {}), **isr}


def topic_specs(names: TopicNames, plan: TopicPlan, changelogs: Iterable[str] = ()) -> list[NewTopic]:
    """The topics of the contract with their partitions and configs, and the tables' changelogs.

    Every topic gets the same partition count: the tables need their changelogs and
    source topics alike (Faust refuses a mismatch), and the view routing and the
    exactly-once transactions rely on partition ``p`` of every topic being one unit.
    """

    def spec(name: str, configs: dict[str, str] | None = None) -> NewTopic:
        return NewTopic(
            name=name,
            num_partitions=plan.partitions,
            replication_factor=plan.replication_factor,
            topic_configs=plan.configs(configs),
        )

    raw_config = {"retention.ms": RAW_RETENTION_MS}
    return [
        *(spec(name, raw_config) for name in names.raw_all()),
        spec(names.rejected, raw_config),
        spec(names.dlq, raw_config),
        spec(names.replay, {"retention.ms": str(7 * 24 * 3600 * 1000)}),
        *(spec(name) for name in names.events_all()),
        spec(names.state_message, {"cleanup.policy": "compact"}),
        # not compacted: one cascade key carries the states of several messages
        spec(names.cascade_members, raw_config),
        *(spec(name, {"cleanup.policy": "compact"}) for name in changelogs),
    ]


async def ensure_topics(
    bootstrap_servers: str, names: TopicNames, plan: TopicPlan, changelogs: Iterable[str] = ()
) -> list[str]:
    """Create every missing topic; returns the names that were created.

    ``changelogs`` names the workers' table changelogs: created here, before the worker
    subscribes, so that its first metadata already has them (created by Faust during the
    first rebalance, they may be seen with 0 partitions and the table refuses its events).
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=15000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [spec for spec in topic_specs(names, plan, changelogs) if spec.name not in existing]
        if not missing:
            return []
        try:
            await admin.create_topics(missing)
        except TopicAlreadyExistsError:
            logger.info("topics created concurrently by another process")
        created = [spec.name for spec in missing]
        logger.info(
            "created topics partitions=%d replication=%d topics=%s",
            plan.partitions,
            plan.replication_factor,
            ",".join(created),
        )
        return created
    finally:
        await admin.close()


async def partitions_of(bootstrap: str, topic: str) -> list[int]:
    """The topic's partitions; empty if the topic does not exist."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if described["error_code"] != 0:
        return []
    return sorted(p["partition"] for p in described["partitions"])


async def wait_until_reachable(bootstrap_servers: str, timeout_s: float) -> None:
    """Return once the cluster answers a metadata request; raise TimeoutError otherwise.

    aiokafka logs every refused connection as an error; while we poll on purpose,
    those lines are noise, so its logger is quieted for the duration.
    """
    client_logger = logging.getLogger("aiokafka")
    level = client_logger.level
    client_logger.setLevel(logging.CRITICAL)
    try:
        await _poll_until_reachable(bootstrap_servers, timeout_s)
    finally:
        client_logger.setLevel(level)


async def _poll_until_reachable(bootstrap_servers: str, timeout_s: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    last_error: Exception | None = None
    while asyncio.get_running_loop().time() < deadline:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=3000)
        try:
            await admin.start()
            await admin.describe_cluster()
            return
        except (KafkaError, OSError) as exc:
            last_error = exc
        finally:
            await admin.close()
        await asyncio.sleep(0.5)
    raise TimeoutError(f"Kafka at {bootstrap_servers} did not answer within {timeout_s:.0f}s: {last_error!r}")

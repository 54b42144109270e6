"""The real processes of the system for integration tests: workers and a gateway, each a
subprocess started with ``python -m cbsp``, on their own topic prefix and consumer group."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from requests.adapters import HTTPAdapter

from cbsp import harness
from cbsp.harness import Process, Processes, python_module, serving
from cbsp.localkafka import LocalKafka
from schemas.topicadmin import TopicPlan, ensure_topics
from schemas.topicnames import PROVIDERS, TopicNames
from streams.processes import free_ports

GATEWAY_CREDENTIALS = {
    "CBSP_REVICOM_BASIC_AUTH": "revicom-test:revicom-password",
    **{f"CBSP_{p.upper()}_TOKEN": f"{p}-test-token" for p in PROVIDERS},
}


def local_broker_ports() -> tuple[int, int]:
    """The ports the session's local broker is configured to take (started or not)."""
    local = LocalKafka.from_env()
    return local.port, local.controller_port


def free_port() -> int:
    """A port free now, never one the session's local broker is configured to take."""
    return harness.free_port(avoid=local_broker_ports())


@dataclass(frozen=True)
class ConsumedRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes]


@dataclass
class Pipeline:
    bootstrap: str
    workdir: Path
    prefix: str = field(default_factory=lambda: f"t{uuid.uuid4().hex[:10]}.")
    gateway_url: str = ""
    worker_urls: list[str] = field(default_factory=list)
    processes: Processes = field(init=False)

    def __post_init__(self) -> None:
        self.processes = Processes(self.workdir, grace_s=30)

    @property
    def topics(self) -> TopicNames:
        return TopicNames(self.prefix)

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(GATEWAY_CREDENTIALS)
        env.update(
            KAFKA_BOOTSTRAP_SERVERS=self.bootstrap,
            CBSP_TOPIC_PREFIX=self.prefix,
            CBSP_WORKER_APP_ID=f"cbsp-{self.prefix.strip('.')}",
            CBSP_GATEWAY_SPOOL_DIR=str(self.workdir / "spool"),
            PYTHONUNBUFFERED="1",
        )
        env.update(extra)
        return env

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> Process:
        """``cbsp <args>``, logging to ``<workdir>/<name>.log``."""
        return self.processes.spawn(name, python_module("cbsp", *args), env)

    def start_worker(self, name: str = "worker", processes: int = 1, **extra: str) -> str:
        """One worker process (``processes`` of them under one ``cbsp worker``: ports from ``port``)."""
        port = free_ports(processes, avoid=local_broker_ports())
        env = self.env(
            CBSP_WORKER_WEB_PORT=str(port),
            CBSP_WORKER_DATA_DIR=str(self.workdir / name / "data"),
            **extra,
        )
        process = self._spawn(name, ["worker", "--processes", str(processes)], env)
        url = f"http://127.0.0.1:{port}"
        self.processes.wait_http(f"{url}/messages/revicom/-", process, timeout_s=120, ready=serving)
        self.worker_urls.append(url)
        return url

    def cbsp(self, *args: str, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
        """``cbsp <args>`` run to its end with this pipeline's environment (replay, topics, ...)."""
        return subprocess.run(
            python_module("cbsp", *args),
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )

    def start_gateway(self, **extra: str) -> str:
        """Start the gateway (one process, its log ``gateway.log``) as ``gateway_url``; returns it."""
        self.gateway_url = self.spawn_gateway("gateway", workers=1, scheme="http", verify=True, **extra)
        return self.gateway_url

    def spawn_gateway(
        self,
        name: str = "gateway",
        *,
        workers: int = 1,
        scheme: str = "http",
        verify: Any = True,
        **extra: str,
    ) -> str:
        """Start one more gateway (its log is ``<name>.log``), wait for /healthz; returns its URL.
        Unlike :meth:`start_gateway` it leaves ``gateway_url`` alone and can serve TLS."""
        port = free_port()
        args = ["gateway", "--bind", f"127.0.0.1:{port}", "--workers", str(workers)]
        process = self._spawn(name, args, self.env(**extra))
        url = f"{scheme}://127.0.0.1:{port}"
        self.processes.wait_http(f"{url}/healthz", process, timeout_s=60, verify=verify)
        return url

    def process(self, name: str) -> Process:
        """The last process started under ``name``."""
        return self.processes.named(name)

    def create_topics(self, partitions: int = 2) -> None:
        """The contract's topics under this pipeline's prefix (when no worker creates them)."""
        asyncio.run(ensure_topics(self.bootstrap, self.topics, TopicPlan(partitions=partitions)))

    def log_tail(self, name: str, lines: int = 40) -> str:
        return self.processes.log_tail(name, lines)

    def stop(self) -> None:
        """Stop every process started here, the last first: SIGTERM, SIGKILL after 30 s."""
        self.processes.stop()

    # -- talking to it ------------------------------------------------------

    def post(self, provider: str, body: bytes, content_type: str, **kwargs: Any) -> requests.Response:
        headers = {"Content-Type": content_type, **kwargs.pop("headers", {})}
        if provider == "revicom" and "auth" not in kwargs:
            kwargs["auth"] = ("revicom-test", "revicom-password")
        elif "auth" not in kwargs:
            headers.setdefault("X-Callback-Token", f"{provider}-test-token")
        return requests.post(
            f"{self.gateway_url}/v1/callbacks/{provider}", data=body, headers=headers, timeout=30, **kwargs
        )

    def post_all(self, callbacks: list[dict[str, Any]], provider: str = "revicom", batch: int = 25) -> None:
        """Post ``callbacks`` as JSON batches, each accepted."""
        for start in range(0, len(callbacks), batch):
            body = json.dumps(callbacks[start : start + batch]).encode()
            assert self.post(provider, body, "application/json").status_code == 200

    def gateway_metric_total(self, name: str) -> float:
        """A gateway metric's value summed over all its label sets (``name``: e.g. ``..._total``)."""
        text = requests.get(f"{self.gateway_url}/metrics", timeout=10).text
        prefix = name + "{"
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix))

    def raw_ends(self, provider: str = "revicom") -> dict[int, int]:
        """The end offset of each partition of the provider's raw topic."""
        ends = asyncio.run(self._offsets(self.topics.raw(provider), self.group))[0]
        return {tp.partition: end for tp, end in ends.items()}

    @property
    def group(self) -> str:
        """The workers' consumer group (their app id), unless a worker is given another."""
        return self.env()["CBSP_WORKER_APP_ID"]

    def caught_up(self, provider: str = "revicom", *, topic: str = "", group: str = "") -> bool:
        """Whether the worker group (or ``group``) has committed every record of the provider's
        raw topic (or of ``topic``). Under exactly-once the offsets are committed with the
        transaction of what the records became: its events and states can all be read then."""
        return not self._behind(topic or self.topics.raw(provider), group or self.group)

    def _behind(self, topic: str, group: str) -> dict[int, tuple[int | None, int]]:
        """(committed offset, end offset) of each partition of ``topic`` not committed to its end."""
        ends, committed = asyncio.run(self._offsets(topic, group))
        return {
            tp.partition: (committed[tp].offset if tp in committed else None, end)
            for tp, end in ends.items()
            if end > 0 and (tp not in committed or committed[tp].offset != end)
        }

    async def _offsets(self, topic: str, group: str) -> tuple[dict[TopicPartition, int], dict[Any, Any]]:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap)
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await consumer.start()
        await admin.start()
        try:
            (described,) = await admin.describe_topics([topic])
            partitions = [TopicPartition(topic, p["partition"]) for p in described["partitions"]]
            assert partitions, f"no partitions known for {topic}"
            ends = await consumer.end_offsets(partitions)
            committed = await admin.list_consumer_group_offsets(group)
        finally:
            await consumer.stop()
            await admin.close()
        return ends, committed

    def wait_caught_up(
        self, provider: str = "revicom", timeout_s: float = 120, *, topic: str = "", group: str = ""
    ) -> None:
        """Wait until :meth:`caught_up`. The default deadline leaves room for a rebalance, a
        restore and a commit interval on a loaded machine."""
        topic, group = topic or self.topics.raw(provider), group or self.group
        deadline = time.monotonic() + timeout_s
        while behind := self._behind(topic, group):
            assert time.monotonic() < deadline, (
                f"group {group} did not commit every record of {topic} within {timeout_s:.0f}s; "
                f"partition: (committed, end) {behind}"
            )
            time.sleep(0.5)

    def view(self, provider: str, message_id: str, worker: int = 0) -> requests.Response:
        return requests.get(f"{self.worker_urls[worker]}/messages/{provider}/{message_id}", timeout=10)

    def wait_view(
        self, provider: str, message_id: str, predicate: Any, timeout_s: float = 30, worker: int = 0
    ) -> Any:
        """Poll the view (of worker number ``worker``) until predicate(json) holds; returns that JSON."""
        deadline = time.monotonic() + timeout_s
        last: Any = None
        while time.monotonic() < deadline:
            response = self.view(provider, message_id, worker=worker)
            if response.status_code == 200:
                last = response.json()
                if predicate(last):
                    return last
            time.sleep(0.2)
        raise AssertionError(f"view of {provider}/{message_id} never matched; last: {last}")

    def consume(
        self,
        topics: Iterable[str],
        *,
        keys: set[bytes] | None = None,
        match: Callable[[ConsumedRecord], bool] | None = None,
        count: int,
        timeout_s: float = 30,
    ) -> list[ConsumedRecord]:
        """Read the topics from the beginning until ``count`` records that have one of ``keys``
        and satisfy ``match`` came, or the timeout passed; returns what came."""

        def wanted(record: ConsumedRecord) -> bool:
            return (keys is None or record.key in keys) and (match is None or match(record))

        return asyncio.run(_consume(self.bootstrap, list(topics), wanted, count, timeout_s))


async def _consume(
    bootstrap: str, topics: list[str], wanted: Callable[[ConsumedRecord], bool], count: int, timeout_s: float
) -> list[ConsumedRecord]:
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
        isolation_level="read_committed",
    )
    await consumer.start()
    found: list[ConsumedRecord] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while len(found) < count and asyncio.get_running_loop().time() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for r in records:
                    headers = {k: bytes(v) for k, v in r.headers}
                    record = ConsumedRecord(r.topic, r.partition, r.offset, r.key, r.value, headers)
                    if wanted(record):
                        found.append(record)
    finally:
        await consumer.stop()
    return found


def read_to_end(bootstrap: str, topics: list[str], timeout_s: float = 60) -> list[ConsumedRecord]:
    """Every committed record of ``topics`` (read_committed) up to their end offsets now."""
    return asyncio.run(_read_to_end(bootstrap, topics, timeout_s))


async def _read_to_end(bootstrap: str, topics: list[str], timeout_s: float) -> list[ConsumedRecord]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    partitions = [TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]]
    assert {tp.topic for tp in partitions} == set(topics), f"not all of {topics} exist: {described}"
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, isolation_level="read_committed"
    )
    await consumer.start()
    found: list[ConsumedRecord] = []
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)  # the last stable offsets: all committed now
        deadline = time.monotonic() + timeout_s
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            assert time.monotonic() < deadline, f"did not reach the ends {ends} within {timeout_s:.0f}s"
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for r in records:
                    headers = {k: bytes(v) for k, v in r.headers}
                    found.append(ConsumedRecord(r.topic, r.partition, r.offset, r.key, r.value, headers))
    finally:
        await consumer.stop()
    return found


class SourceAddressAdapter(HTTPAdapter):
    """Connect from a chosen local address: 127.0.0.2, 127.0.0.3 ... are other callers on loopback."""

    def __init__(self, source_ip: str) -> None:
        self.source_ip = source_ip
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.source_ip, 0)
        super().init_poolmanager(*args, **kwargs)


def session_from(source_ip: str) -> requests.Session:
    """A requests session whose connections come from ``source_ip`` (a loopback address)."""
    session = requests.Session()
    adapter = SourceAddressAdapter(source_ip)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


# -- several workers: routing, takeover, restarts (tests/integration/test_state_*) --------


def get_json(url: str, path: str) -> tuple[int, Any]:
    """GET ``path`` from a worker; (status, JSON body), or (0, None) when it does not answer."""
    try:
        response = requests.get(f"{url}{path}", timeout=10)
    except requests.RequestException:
        return 0, None
    try:
        return response.status_code, response.json()
    except ValueError:
        return response.status_code, None


def wait_group(urls: list[str], timeout_s: float = 90) -> None:
    """Wait until every worker in ``urls`` reports the same partition routing, naming all of them."""
    deadline = time.monotonic() + timeout_s
    seen: list[Any] = []
    while time.monotonic() < deadline:
        seen = [get_json(url, "/router/")[1] for url in urls]
        if all(seen) and all(s == seen[0] for s in seen) and set(seen[0]) == set(urls):
            return
        time.sleep(0.3)
    raise AssertionError(f"workers {urls} never agreed on the routing; last seen: {seen}")


def wait_answers(
    urls: list[str],
    paths: list[str],
    timeout_s: float = 60,
    done: Callable[[str, Any], bool] = lambda path, body: True,
    wanted: Callable[[str], Any] | None = None,
) -> dict[str, Any]:
    """Wait until every worker answers 200 for every path, the same JSON from each, and
    ``done(path, json)`` holds; returns the JSON by path."""
    deadline = time.monotonic() + timeout_s
    pending = list(paths)
    answers: dict[str, Any] = {}
    while pending and time.monotonic() < deadline:
        for path in list(pending):
            found = [get_json(url, path) for url in urls]
            alike = all(status == 200 and body == found[0][1] for status, body in found)
            if alike and done(path, found[0][1]):
                answers[path] = found[0][1]
                pending.remove(path)
        if pending:
            time.sleep(0.3)
    if pending:
        last = {url: get_json(url, pending[0]) for url in urls}
        want = "" if wanted is None else f"; wanted: {wanted(pending[0])}"
        raise AssertionError(f"{len(pending)} paths never answered alike, e.g. {pending[0]}: {last}{want}")
    return answers


def signal_worker(pipeline: Pipeline, name: str, url: str, sig: int = signal.SIGTERM) -> int:
    """Stop the worker ``name`` with ``sig`` (SIGKILL: no clean stop); returns its exit code."""
    process = pipeline.process(name)
    process.send_signal(sig)
    code = process.wait(timeout=60)
    pipeline.worker_urls.remove(url)
    return code

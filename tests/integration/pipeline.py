"""The real processes of the system for integration tests: workers and a gateway, each a
subprocess started with ``python -m cbsp``, on their own topic prefix and consumer group."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from aiokafka import AIOKafkaConsumer

from cbsp.topicnames import PROVIDERS, TopicNames

GATEWAY_CREDENTIALS = {
    "CBSP_REVICOM_BASIC_AUTH": "revicom-test:revicom-password",
    **{f"CBSP_{p.upper()}_TOKEN": f"{p}-test-token" for p in PROVIDERS},
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
    processes: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)
    gateway_url: str = ""
    worker_urls: list[str] = field(default_factory=list)

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
            PYTHONUNBUFFERED="1",
        )
        env.update(extra)
        return env

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        with open(self.workdir / f"{name}.log", "ab") as log:  # the child keeps its own descriptor
            process = subprocess.Popen(
                [sys.executable, "-m", "cbsp", *args], env=env, stdout=log, stderr=subprocess.STDOUT
            )
        self.processes.append((name, process))
        return process

    def start_worker(self, name: str = "worker", **extra: str) -> str:
        port = free_port()
        env = self.env(
            CBSP_WORKER_WEB_PORT=str(port),
            CBSP_WORKER_DATA_DIR=str(self.workdir / name / "data"),
            **extra,
        )
        process = self._spawn(name, ["worker"], env)
        url = f"http://127.0.0.1:{port}"
        self._wait_http(f"{url}/messages/revicom/-", process, name, timeout_s=120)
        self.worker_urls.append(url)
        return url

    def start_gateway(self, **extra: str) -> str:
        port = free_port()
        process = self._spawn(
            "gateway", ["gateway", "--bind", f"127.0.0.1:{port}", "--workers", "1"], self.env(**extra)
        )
        self.gateway_url = f"http://127.0.0.1:{port}"
        self._wait_http(f"{self.gateway_url}/healthz", process, "gateway", timeout_s=60)
        return self.gateway_url

    def _wait_http(self, url: str, process: subprocess.Popen[bytes], name: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"{name} exited with {process.returncode}:\n{self.log_tail(name)}")
            try:
                requests.get(url, timeout=2)
                return
            except requests.ConnectionError:
                time.sleep(0.3)
        raise AssertionError(f"{name} did not answer on {url} in {timeout_s}s:\n{self.log_tail(name)}")

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.workdir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop(self) -> None:
        for _, process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for _, process in reversed(self.processes):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()

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

    def view(self, provider: str, message_id: str, worker: int = 0) -> requests.Response:
        return requests.get(f"{self.worker_urls[worker]}/messages/{provider}/{message_id}", timeout=10)

    def wait_view(self, provider: str, message_id: str, predicate: Any, timeout_s: float = 30) -> Any:
        """Poll the view until predicate(json) holds; returns the last JSON seen."""
        deadline = time.monotonic() + timeout_s
        last: Any = None
        while time.monotonic() < deadline:
            response = self.view(provider, message_id)
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

"""The processes a benchmark runs: broker, gateway, workers, the no-op server, load generators."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient

from cbsp.harness import Process, Processes, free_port, python_module, serving, wait_http
from cbsp.localkafka import LocalKafka
from schemas.topicnames import PROVIDERS, TopicNames
from streams.processes import free_ports

CREDENTIALS = {
    "CBSP_REVICOM_BASIC_AUTH": "bench:bench-password",
    **{f"CBSP_{p.upper()}_TOKEN": f"{p}-bench-token" for p in PROVIDERS},
}


def rss_peak_mb(pid: int, field: str = "VmHWM") -> float:
    """Peak resident set size (VmHWM) of a running process, in MiB; ``field="VmRSS"``: the current one."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Services:
    bootstrap: str
    workdir: Path
    prefix: str = field(default_factory=lambda: f"bench{uuid.uuid4().hex[:6]}.")
    app_ids: set[str] = field(default_factory=set)  # of the workers started: their changelog topics
    profile: bool = False  # --profile: record the one-worker drain with py-spy
    running: Processes = field(init=False)

    def __post_init__(self) -> None:
        self.running = Processes(self.workdir, grace_s=60)

    @property
    def topics(self) -> TopicNames:
        return TopicNames(self.prefix)

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            **CREDENTIALS,
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "CBSP_TOPIC_PREFIX": self.prefix,
            "PYTHONUNBUFFERED": "1",
            **extra,
        }

    def spawn(self, name: str, module: str, *args: str, **env: str) -> Process:
        """``python -m <module> <args>``, logging to ``<workdir>/<name>.log``."""
        return self.running.spawn(name, python_module(module, *args), self.env(**env))

    def gateway(self, module: str = "cbsp", **env: str) -> tuple[str, Process]:
        """The gateway as the run command serves it (2 processes x 8 threads), or the no-op server."""
        port = free_port()
        args = ("gateway",) if module == "cbsp" else ()
        process = self.spawn(
            f"gateway-{module}",
            module,
            *args,
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "8",
            **env,
        )
        url = f"http://127.0.0.1:{port}"
        self.running.wait_http(f"{url}/healthz", process, timeout_s=60)
        return url, process

    def worker(
        self, name: str, app_id: str, processes: int = 1, wait: bool = True, **env: str
    ) -> tuple[str, Process]:
        """``cbsp worker --processes N``: its first process's URL (web ports from there on); with
        ``wait``, once its views answer."""
        self.app_ids.add(app_id)
        port = free_ports(processes)
        process = self.spawn(
            name,
            "cbsp",
            "worker",
            "--processes",
            str(processes),
            CBSP_WORKER_APP_ID=app_id,
            CBSP_WORKER_WEB_PORT=str(port),
            CBSP_WORKER_DATA_DIR=str(self.workdir / name),
            **env,
        )
        url = f"http://127.0.0.1:{port}"
        if wait:
            self.running.wait_http(f"{url}/messages/revicom/-", process, timeout_s=180)
        return url, process

    def loadgen(self, url: str, *args: str) -> dict[str, Any]:
        result = subprocess.run(
            python_module("bench.loadgen", "--url", url, *args),
            env=self.env(),
            capture_output=True,
            text=True,
            check=True,
        )
        return dict(json.loads(result.stdout.strip().splitlines()[-1]))

    def stop(self, process: Process | None = None) -> None:
        """Stop every process started here (or only ``process``): SIGTERM, SIGKILL after 60 s."""
        self.running.stop(process)

    def profiler(self, pid: int, name: str) -> Process:
        """py-spy recording ``pid`` into ``<workdir>/<name>.txt`` (collapsed stacks: one line per
        stack and its sample count, for `python -m bench.profile`, speedscope or flamegraph.pl)
        until it gets SIGINT."""
        spy = Path(sys.executable).parent / "py-spy"
        return subprocess.Popen(
            [
                str(spy),
                "record",
                "--pid",
                str(pid),
                "--rate",
                "50",
                "--format",
                "raw",
                "--output",
                str(self.workdir / f"{name}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def delete_topics(self) -> list[str]:
        """Delete every topic of this run (its prefix, its workers' changelogs): a broker that
        keeps them runs out of file handles after a few dozen runs (three files per partition)."""
        owners = (self.prefix, *(f"{app_id}-" for app_id in self.app_ids))
        return asyncio.run(delete_topics(self.bootstrap, lambda topic: topic.startswith(owners)))


async def delete_topics(bootstrap: str, which: Any) -> list[str]:
    """Delete the topics for which ``which(name)`` is true; returns their names."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        topics = sorted(topic for topic in await admin.list_topics() if which(topic))
        if topics:
            await admin.delete_topics(topics)
        return topics
    finally:
        await admin.close()


def wait_views(url: str, timeout_s: float) -> float:
    """Wait until a worker's table views answer (no more 503: its tables are restored and its
    partitions assigned); returns the monotonic time they first did."""
    wait_http(
        f"{url}/messages/revicom/-",
        what=f"the views of {url}",
        timeout_s=timeout_s,
        ready=serving,
        interval_s=0.1,
        answer_timeout_s=10,
    )
    return time.monotonic()


def local_broker_pids() -> list[int]:
    """The local broker's process, if it runs: it shares the machine's cores with what is measured
    (empty: a broker elsewhere, ``KAFKA_BOOTSTRAP_SERVERS``)."""
    pid = LocalKafka.from_env().running_pid()
    return [pid] if pid is not None else []


def local_broker() -> tuple[str, LocalKafka | None]:
    """KAFKA_BOOTSTRAP_SERVERS, or the local broker (started here if it was not running)."""
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        return configured, None
    broker = LocalKafka.from_env()
    started = broker.start()
    return broker.bootstrap_servers, broker if started else None

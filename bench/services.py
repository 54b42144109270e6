"""The processes a benchmark runs: broker, gateway, workers, the no-op server, load generators."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient

from cbsp.localkafka import LocalKafka
from schemas.topicnames import PROVIDERS, TopicNames
from streams.processes import free_ports

CREDENTIALS = {
    "CBSP_REVICOM_BASIC_AUTH": "bench:bench-password",
    **{f"CBSP_{p.upper()}_TOKEN": f"{p}-bench-token" for p in PROVIDERS},
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
    running: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)
    app_ids: set[str] = field(default_factory=set)  # of the workers started: their changelog topics
    profile: bool = False  # --profile: record the one-worker drain with py-spy

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

    def spawn(self, name: str, module: str, *args: str, **env: str) -> subprocess.Popen[bytes]:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with open(self.workdir / f"{name}.log", "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", module, *args],
                env=self.env(**env),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.running.append((name, process))
        return process

    def gateway(self, module: str = "cbsp", **env: str) -> tuple[str, subprocess.Popen[bytes]]:
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
        wait_http(f"{url}/healthz", process)
        return url, process

    def worker(
        self, name: str, app_id: str, processes: int = 1, wait: bool = True, **env: str
    ) -> tuple[str, subprocess.Popen[bytes]]:
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
            wait_http(f"{url}/messages/revicom/-", process, timeout_s=180)
        return url, process

    def loadgen(self, url: str, *args: str) -> dict[str, Any]:
        result = subprocess.run(
            [sys.executable, "-m", "bench.loadgen", "--url", url, *args],
            env=self.env(),
            capture_output=True,
            text=True,
            check=True,
        )
        return dict(json.loads(result.stdout.strip().splitlines()[-1]))

    def stop(self, process: subprocess.Popen[bytes] | None = None) -> None:
        targets = [p for _, p in self.running if process is None or p is process]
        for target in targets:
            if target.poll() is None:
                target.send_signal(signal.SIGTERM)
        for target in targets:
            try:
                target.wait(timeout=60)
            except subprocess.TimeoutExpired:
                target.kill()
                target.wait()
        self.running = [(n, p) for n, p in self.running if p not in targets]

    def profiler(self, pid: int, name: str) -> subprocess.Popen[bytes]:
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


def wait_http(url: str, process: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310  (loopback)
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer in {timeout_s}s")


def status_of(url: str) -> int:
    """The HTTP status of a GET, 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310  (loopback)
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def wait_views(url: str, timeout_s: float) -> float:
    """Wait until a worker's table views answer (no more 503: its tables are restored and its
    partitions assigned); returns the monotonic time they first did."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if status_of(f"{url}/messages/revicom/-") not in (0, 503):
            return time.monotonic()
        time.sleep(0.1)
    raise RuntimeError(f"the views of {url} did not answer in {timeout_s:.0f}s")


def local_broker() -> tuple[str, LocalKafka | None]:
    """KAFKA_BOOTSTRAP_SERVERS, or the local broker (started here if it was not running)."""
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        return configured, None
    broker = LocalKafka.from_env()
    started = broker.start()
    return broker.bootstrap_servers, broker if started else None

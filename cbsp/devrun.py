"""``cbsp dev`` (what ``make run`` runs): local Kafka, one worker and the gateway, for development.

Generates dev credentials for every provider, prints the URLs and ready-to-paste
curl commands, and on Ctrl-C stops everything it started (a broker that was
already running, or one given by KAFKA_BOOTSTRAP_SERVERS, is left alone).
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import signal
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from cbsp.harness import Process, Processes, python_module
from cbsp.localkafka import LocalKafka
from schemas.topicnames import PROVIDERS


@dataclass
class DevStack:
    env: dict[str, str]
    gateway_url: str
    worker_url: str
    log_dir: Path = Path(".cbsp/logs")
    processes: Processes = field(init=False)

    def __post_init__(self) -> None:
        # each in a session of its own: a Ctrl-C reaches only us, and we stop them
        self.processes = Processes(self.log_dir, grace_s=30, own_session=True)

    def spawn(self, name: str, *args: str) -> Process:
        """Start ``cbsp <args>`` in its own session, logging to ``<log_dir>/<name>.log``."""
        return self.processes.spawn(name, python_module("cbsp", *args), self.env)

    def wait_http(self, url: str, process: Process) -> None:
        """Wait until ``url`` answers (any status: a worker restoring its tables answers 503)."""
        self.processes.wait_http(url, process, timeout_s=120)

    def stop(self) -> None:
        self.processes.stop()


def dev_credentials() -> dict[str, str]:
    """Fresh random credentials for every provider: a token each, HTTP Basic for revicom."""
    env = {f"CBSP_{p.upper()}_TOKEN": secrets.token_urlsafe(18) for p in PROVIDERS}
    env["CBSP_REVICOM_BASIC_AUTH"] = f"dev:{secrets.token_urlsafe(18)}"
    return env


def sample_commands(gateway_url: str, worker_url: str, env: Mapping[str, str]) -> tuple[str, str]:
    message_uuid = str(uuid.uuid4())
    item = {
        "message_uuid": message_uuid,
        "channel_type": "SMS",
        "callback_event": "delivered",
        "status": "delivered",
        "status_time": "2026-01-01T12:00:00Z",
    }
    callback = json.dumps([item], separators=(",", ":"))
    post = (
        f"curl -s -u {shlex.quote(env['CBSP_REVICOM_BASIC_AUTH'])} -H 'Content-Type: application/json' "
        f"-d {shlex.quote(callback)} {gateway_url}/v1/callbacks/revicom"
    )
    view = f"curl -s {worker_url}/messages/revicom/{message_uuid}"
    return post, view


def main(argv: list[str]) -> int:
    broker = LocalKafka.from_env()
    started_broker = False
    env = dict(os.environ)
    if "KAFKA_BOOTSTRAP_SERVERS" not in env:
        started_broker = broker.start()
        env["KAFKA_BOOTSTRAP_SERVERS"] = broker.bootstrap_servers
    env.update({k: v for k, v in dev_credentials().items() if k not in os.environ})
    bind = env.setdefault("CBSP_GATEWAY_BIND", "127.0.0.1:8080")
    web_port = env.setdefault("CBSP_WORKER_WEB_PORT", "6066")
    stack = DevStack(env, f"http://{bind}", f"http://127.0.0.1:{web_port}")
    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        worker = stack.spawn("worker", "worker")
        stack.wait_http(f"{stack.worker_url}/messages/revicom/-", worker)
        gateway = stack.spawn("gateway", "gateway")
        stack.wait_http(f"{stack.gateway_url}/healthz", gateway)
        print_banner(stack, env)
        while not stopping and stack.processes.all_running():
            time.sleep(0.5)
    finally:
        print("\nstopping gateway, worker" + (" and Kafka" if started_broker else "") + " ...", flush=True)
        stack.stop()
        if started_broker:
            broker.stop()
        print("stopped.", flush=True)
    return 0


def print_banner(stack: DevStack, env: Mapping[str, str]) -> None:
    post, view = sample_commands(stack.gateway_url, stack.worker_url, env)
    credentials = "\n".join(
        f"  {name}={env[name]}" for name in sorted(env) if name.endswith(("_TOKEN", "_BASIC_AUTH"))
    )
    print(
        f"""
Callback stream processor is running (Ctrl-C stops everything started here).
  gateway:     {stack.gateway_url}/v1/callbacks/<provider>   (health: {stack.gateway_url}/readyz)
  table views: {stack.worker_url}/messages/<provider>/<provider message id>
  Kafka:       {env["KAFKA_BOOTSTRAP_SERVERS"]}
  logs:        {stack.log_dir}/worker.log, {stack.log_dir}/gateway.log

Dev credentials generated for this run:
{credentials}

Send a sample Revicom callback:
  {post}
Then read the message's state:
  {view}
""",
        flush=True,
    )

"""`make run` (`cbsp dev`): everything comes up, the printed curl commands work as printed,
and Ctrl-C leaves no broker, worker or gateway behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from streams.processes import default_count, free_ports
from tests.integration.pipeline import free_port


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_for_banner(log: Path, process: subprocess.Popen[bytes], timeout_s: float = 240) -> list[str]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        lines = log.read_text(errors="replace").splitlines()
        if any(line.startswith("Then read the message's state:") for line in lines[:-1]):
            return lines
        assert process.poll() is None, "cbsp dev exited:\n" + "\n".join(lines[-40:])
        time.sleep(0.5)
    raise AssertionError("no banner in time:\n" + log.read_text(errors="replace")[-4000:])


def printed_command(lines: list[str], heading: str) -> str:
    return lines[lines.index(heading) + 1].strip()


def test_dev_run_serves_the_printed_commands_and_stops_everything(tmp_path: Path) -> None:
    ports = {name: free_port() for name in ("kafka", "controller", "gateway")}
    # `cbsp dev` runs `cbsp worker` with a process per core, each on the next web port: all free
    ports["worker"] = free_ports(default_count(), avoid=tuple(ports.values()))
    env = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
    env.update(
        CBSP_KAFKA_HOME=str(tmp_path / "kafka"),
        CBSP_KAFKA_PORT=str(ports["kafka"]),
        CBSP_KAFKA_CONTROLLER_PORT=str(ports["controller"]),
        CBSP_KAFKA_HEAP="256m",
        CBSP_GATEWAY_BIND=f"127.0.0.1:{ports['gateway']}",
        CBSP_WORKER_WEB_PORT=str(ports["worker"]),
        CBSP_WORKER_DATA_DIR=str(tmp_path / "worker"),
    )
    log = tmp_path / "dev.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "cbsp", "dev"], cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        lines = wait_for_banner(log, process)
        post = printed_command(lines, "Send a sample Revicom callback:")
        view = printed_command(lines, "Then read the message's state:")

        posted = subprocess.run(["bash", "-c", post], capture_output=True, text=True, timeout=60)
        assert posted.stdout == '{"accepted":1}\n', posted
        # the banner comes once the worker's web server answers, a 503 included: joining the
        # group and restoring its tables may still be ahead of it
        deadline = time.monotonic() + 120
        while '"DELIVERED"' not in (
            seen := subprocess.run(["bash", "-c", view], capture_output=True, text=True).stdout
        ):
            assert time.monotonic() < deadline, f"the view did not show DELIVERED within 120 s: {seen}"
            time.sleep(0.5)
        assert all(port_open(port) for port in ports.values())
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=120)

    output = log.read_text(errors="replace")
    assert process.returncode == 0, output[-4000:]
    assert "stopped." in output
    assert not any(port_open(port) for port in ports.values())
    assert not (tmp_path / "kafka" / "broker.pid").exists()

"""``cbsp worker --processes N``: N members of the worker group on one machine, one per core.

A worker process is one Python interpreter: it saturates one core and leaves the others idle.
So the command starts N worker processes, each a member of the same consumer group (the app id)
with its own data dir (``<data dir>/p<i>``) and web port (``<web port> + i``), exactly as N
workers on N machines would be: Kafka shares the partitions among them, and each one's views
route a key to whichever process owns its partition.

This process only supervises: it passes SIGTERM and SIGINT on, and when one worker exits, it
stops the others and exits with that worker's status (75 included: restart the whole command,
as the runbook says), so that whatever supervises the command sees one unit. Each worker is
killed by the kernel if this process dies (``PR_SET_PDEATHSIG``), so a SIGKILL leaves none behind.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import FrameType

from streams.settings import ENV_DATA_DIR, ENV_WEB_PORT, WorkerSettings

logger = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
STOP_WAIT_S = 60.0


def default_count() -> int:
    return max(1, len(os.sched_getaffinity(0)))


def member_env(env: Mapping[str, str], settings: WorkerSettings, index: int) -> dict[str, str]:
    """The environment of worker ``index``: its own data dir and web port."""
    return {
        **env,
        ENV_DATA_DIR: str(Path(settings.data_dir) / f"p{index}"),
        ENV_WEB_PORT: str(settings.web_port + index),
    }


def _die_with_parent() -> None:  # runs in the child, between fork and exec
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def supervise(count: int, argv: list[str], settings: WorkerSettings) -> int:
    """Run ``count`` worker processes until one exits or a stop signal comes; their status."""
    members = []
    for index in range(count):
        env = member_env(os.environ, settings, index)
        members.append(
            subprocess.Popen(  # noqa: S603  (our own interpreter and module)
                [sys.executable, "-m", "cbsp", "worker", "--processes", "1", *argv],
                env=env,
                preexec_fn=_die_with_parent,  # noqa: PLW1509
            )
        )
        logger.info(
            "worker process started index=%d pid=%d web_port=%s data_dir=%s",
            index,
            members[-1].pid,
            env[ENV_WEB_PORT],
            env[ENV_DATA_DIR],
        )
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for member in members:
            if member.poll() is None:
                member.send_signal(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while True:
        exited = [member for member in members if member.poll() is not None]
        if exited:
            break
        time.sleep(0.2)
    first = exited[0]
    if not stopping:
        logger.error(
            "worker process exited, stopping the others pid=%d status=%s", first.pid, first.returncode
        )
        for member in members:
            if member.poll() is None:
                member.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_WAIT_S
    for member in members:
        try:
            member.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            logger.error("worker process did not stop in time, killing it pid=%d", member.pid)
            member.kill()
            member.wait()
    failed = [member.returncode for member in members if member.returncode not in (0, -signal.SIGTERM)]
    return first.returncode if not stopping else (failed[0] if failed else 0)


def free_ports(count: int, avoid: tuple[int, ...] = ()) -> int:
    """The first of ``count`` consecutive ports free now on 127.0.0.1 (none of ``avoid``): the web
    ports of a ``--processes`` worker started with the first."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            first = int(sock.getsockname()[1])
        ports = range(first, first + count)
        if not set(ports) & set(avoid) and all(_free(port) for port in ports[1:]):
            return first


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True

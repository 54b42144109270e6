"""A background Java service the project runs itself (the local Kafka, the local schema registry):
found by its pid file, stopped with a signal and a deadline, and explained by its log's first
errors and last lines."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

# Services this process started, kept referenced while they run (a collected Popen of a running
# process warns) and waited for when stopped (no zombie).
_STARTED: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class PidFile:
    """Where a service's pid is kept, and what its command line holds (a pid the system gave to
    another process since is not ours)."""

    path: Path
    marker: bytes  # e.g. b"kafka.Kafka": a part of the service's command line
    what: str  # e.g. "broker": for the log

    def record(self, process: subprocess.Popen[bytes]) -> None:
        self.path.write_text(str(process.pid))
        _STARTED[process.pid] = process

    def running_pid(self) -> int | None:
        """The service's pid if it runs, else None."""
        try:
            pid = int(self.path.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()  # a zombie has none
        except OSError:
            return None
        return pid if self.marker in cmdline else None

    def signal(self, sig: signal.Signals) -> int | None:
        """Send ``sig`` to the service; its pid, or None (and no pid file left) if none runs."""
        pid = self.running_pid()
        if pid is None:
            self.path.unlink(missing_ok=True)
            return None
        os.kill(pid, sig)
        return pid

    def wait_stopped(self, pid: int, timeout_s: float) -> None:
        """Wait until the service ``pid`` has exited; SIGKILL it after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self.running_pid() is not None:
            time.sleep(0.2)
        if self.running_pid() is not None:
            logger.warning("%s pid=%d did not stop within %.0fs: killing it", self.what, pid, timeout_s)
            os.kill(pid, signal.SIGKILL)
        process = _STARTED.pop(pid, None)
        if process is not None:  # our child: collect its exit status
            process.wait(timeout=10)
        self.path.unlink(missing_ok=True)

    def stop(self, timeout_s: float) -> bool:
        """SIGTERM, SIGKILL after the timeout. True if the service was running."""
        pid = self.signal(signal.SIGTERM)
        if pid is not None:
            self.wait_stopped(pid, timeout_s)
        return pid is not None


def log_tail(paths: Iterable[Path], lines: int = 20) -> str:
    """The first errors of the first log that exists (the cause, e.g. a port in use), then its
    last lines."""
    for path in paths:
        if path.exists():
            text = path.read_text(errors="replace").splitlines()
            errors = [line for line in text if _is_error(line)][:5]
            return "\n".join([*errors, "...", *text[-lines:]] if errors else text[-lines:])
    return "(no log yet)"


def _is_error(line: str) -> bool:
    return " ERROR " in line or " FATAL " in line or line.startswith("Error")

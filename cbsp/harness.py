"""Start and stop the project's own processes, for ``cbsp dev``, the benchmark and the tests.

The gateway and the workers (and the benchmark's no-op server) run as ``python -m <module>``
subprocesses. Three harnesses start them: ``cbsp.devrun.DevStack`` (``cbsp dev``),
``bench.services.Services`` (the benchmark) and ``tests.integration.pipeline.Pipeline`` (the
integration and fault tests). What they all need lives here, once:

- :func:`free_port`: a loopback port that is free now;
- :class:`Processes`: the processes one harness started, each under a name and appending its
  output to ``<log dir>/<name>.log``; it waits until a URL of one of them answers, reads the last
  lines of a log, and stops them (SIGTERM, then SIGKILL for any still running after a grace period);
- :func:`wait_http`: wait until a URL answers. When the process being waited for exits first, the wait
  fails at once with :class:`NotReady`. The error names what was awaited and shows the last lines of
  its log, so the caller does not wait for the timeout without knowing why.

Where the harnesses differ, a parameter says how: ``own_session`` (``cbsp dev`` puts its children
in a session of their own, so that a Ctrl-C at the terminal reaches only ``cbsp dev``, which then
stops them), ``grace_s`` (how long a process may take to stop after SIGTERM), and for a wait
``timeout_s``, ``ready`` (a worker's views answer 503 until its tables are restored; some callers
wait for more than an answer), ``verify`` (a gateway serving TLS) and the polling intervals.
"""

from __future__ import annotations

import http.client
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeAlias

from streams.processes import free_ports

Process: TypeAlias = subprocess.Popen[bytes]
# How to check an HTTPS server's certificate: against the system's CAs (True), not at all (False),
# or against the CA file at this path (as ``requests`` takes it).
Verify: TypeAlias = bool | str

LOG_TAIL_LINES = 40
POLL_INTERVAL_S = 0.3
ANSWER_TIMEOUT_S = 2.0
STATUS_TIMEOUT_S = 10.0


class NotReady(RuntimeError):
    """A process did not come up: it exited, or its URL did not answer in time."""


def free_port(avoid: Collection[int] = ()) -> int:
    """A port on 127.0.0.1 that is free now, none of ``avoid``."""
    return free_ports(1, avoid=tuple(avoid))


def python_module(module: str, *args: str) -> list[str]:
    """The command line of ``python -m <module> <args>``, with this interpreter."""
    return [sys.executable, "-m", module, *args]


# -- HTTP -----------------------------------------------------------------------------------


def answering(status: int) -> bool:
    """Any HTTP status: the server is up (a worker's 503 while restoring its tables included)."""
    return True


def serving(status: int) -> bool:
    """Any HTTP status but 503 Service Unavailable (a worker restoring its tables, or not in its group)."""
    return status != 503


def tls_context(verify: Verify) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)
    if verify is False:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def http_status(url: str, timeout_s: float = STATUS_TIMEOUT_S, verify: Verify = True) -> int:
    """The HTTP status of a GET of ``url``, 0 when nothing answers. Through no proxy: our URLs are
    loopback ones."""
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=tls_context(verify))
    )
    try:
        with opener.open(url, timeout=timeout_s) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        error.close()
        return error.code
    except (OSError, http.client.HTTPException):
        return 0


def wait_http(
    url: str,
    *,
    what: str,
    timeout_s: float,
    process: Process | None = None,
    log: Path | None = None,
    ready: Callable[[int], bool] = answering,
    verify: Verify = True,
    interval_s: float = POLL_INTERVAL_S,
    answer_timeout_s: float = ANSWER_TIMEOUT_S,
) -> None:
    """Wait until ``url`` answers with a status that ``ready`` accepts.

    Raises :class:`NotReady`, naming ``what`` and the URL and showing the last lines of ``log``,
    as soon as ``process`` has exited, or when ``timeout_s`` has passed."""
    deadline = time.monotonic() + timeout_s
    status = 0
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise NotReady(
                f"{what} exited with code {process.returncode} before {url} answered{last_lines(log)}"
            )
        status = http_status(url, answer_timeout_s, verify)
        if status and ready(status):
            return
        time.sleep(interval_s)
    answer = f"last answer: HTTP {status}" if status else "no answer"
    raise NotReady(f"{what} was not ready on {url} within {timeout_s:g}s ({answer}){last_lines(log)}")


# -- logs and stopping ----------------------------------------------------------------------


def log_tail(log: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of the file ``log``; empty when there is no such file."""
    if not log.exists():
        return ""
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def last_lines(log: Path | None) -> str:
    """For an error message: the last lines of ``log``, on lines of their own after a heading."""
    return "" if log is None else f"; last lines of {log}:\n{log_tail(log)}"


def start_logged(command: Sequence[str], env: Mapping[str, str], log: Path, own_session: bool) -> Process:
    """Start ``command`` with ``env``, its output and errors appended to the file ``log``; with
    ``own_session``, in a session (and so a process group) of its own: signals from the terminal,
    a Ctrl-C, do not reach it."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as output:  # the child keeps its own descriptor
        return subprocess.Popen(  # noqa: S603  (our own interpreter and modules)
            list(command),
            env=dict(env),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=own_session,
        )


def terminate(processes: Sequence[Process], grace_s: float) -> None:
    """SIGTERM every one of ``processes`` still running; then wait for each in turn, up to ``grace_s``,
    and SIGKILL it if it is still running by then."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Processes:
    """The processes one harness started, each under a name, appending its output to
    ``<log_dir>/<name>.log`` (a name started again, a restarted worker say, continues its log)."""

    log_dir: Path
    grace_s: float = 30.0
    own_session: bool = False
    started: list[tuple[str, Process]] = field(default_factory=list)

    def log_file(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def spawn(self, name: str, command: Sequence[str], env: Mapping[str, str]) -> Process:
        process = start_logged(command, env, self.log_file(name), self.own_session)
        self.started.append((name, process))
        return process

    def named(self, name: str) -> Process:
        """The last process started under ``name``."""
        return [process for named, process in self.started if named == name][-1]

    def name_of(self, process: Process) -> str:
        for name, started in self.started:
            if started is process:
                return name
        raise ValueError(f"pid {process.pid} was not started here, or was stopped since")

    def wait_http(
        self,
        url: str,
        process: Process,
        *,
        timeout_s: float,
        ready: Callable[[int], bool] = answering,
        verify: Verify = True,
    ) -> None:
        """The module's :func:`wait_http` for one of these processes: its name and its log."""
        name = self.name_of(process)
        log = self.log_file(name)
        wait_http(url, what=name, timeout_s=timeout_s, process=process, log=log, ready=ready, verify=verify)

    def log_tail(self, name: str, lines: int = LOG_TAIL_LINES) -> str:
        return log_tail(self.log_file(name), lines)

    def all_running(self) -> bool:
        return all(process.poll() is None for _, process in self.started)

    def stop(self, only: Process | None = None) -> None:
        """Stop all of them, the last started first (or only ``only``, when it is one of them),
        and forget them."""
        stopping = [process for _, process in reversed(self.started) if only is None or process is only]
        terminate(stopping, self.grace_s)
        self.started = [(name, process) for name, process in self.started if process not in stopping]

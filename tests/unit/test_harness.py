"""cbsp.harness with real subprocesses: a ``python -m http.server`` on a free port, a process that
exits at once, one that never answers and one that ignores SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cbsp.harness import NotReady, Processes, free_port, http_status, python_module, wait_http


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    started = Processes(tmp_path / "logs", grace_s=5)
    try:
        yield started
    finally:
        started.stop()


def python_code(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def http_server(processes: Processes, name: str = "server") -> tuple[str, int]:
    port = free_port()
    command = python_module("http.server", str(port), "--bind", "127.0.0.1")
    process = processes.spawn(name, command, os.environ)
    url = f"http://127.0.0.1:{port}/"
    processes.wait_http(url, process, timeout_s=30)
    return url, port


def wait_for_line(processes: Processes, name: str, line: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while line not in processes.log_tail(name).splitlines():
        assert time.monotonic() < deadline, f"{name} never printed {line!r}: {processes.log_tail(name)}"
        time.sleep(0.05)


def test_wait_http_returns_once_the_server_answers_and_stop_terminates_it(processes: Processes) -> None:
    url, _ = http_server(processes)
    process = processes.named("server")

    assert http_status(url) == 200
    assert processes.all_running()
    processes.stop()

    assert process.returncode == -signal.SIGTERM
    assert http_status(url, timeout_s=2) == 0  # nothing answers any more
    assert processes.started == []


def test_any_answer_is_ready_by_default_and_ready_can_ask_for_more(processes: Processes) -> None:
    url, _ = http_server(processes)
    process = processes.named("server")
    missing = f"{url}no-such-page"

    processes.wait_http(missing, process, timeout_s=5)  # a 404 answers: the server is up
    with pytest.raises(NotReady) as raised:
        processes.wait_http(missing, process, timeout_s=1, ready=lambda status: status == 200)

    message = str(raised.value)
    assert message.startswith(f"server was not ready on {missing} within 1s (last answer: HTTP 404)")
    assert 'GET /no-such-page HTTP/1.1" 404' in message  # the server's own log line, from its log's tail


def test_a_process_that_exits_fails_the_wait_at_once_naming_it_and_showing_its_log(
    processes: Processes,
) -> None:
    code = "import sys; print('cannot read the settings: CBSP_X is not a number', flush=True); sys.exit(3)"
    process = processes.spawn("worker", python_code(code), os.environ)
    url = f"http://127.0.0.1:{free_port()}/healthz"

    started = time.monotonic()
    with pytest.raises(NotReady) as raised:
        processes.wait_http(url, process, timeout_s=60)

    assert time.monotonic() - started < 30  # it did not wait for the timeout
    message = str(raised.value)
    assert message.startswith(f"worker exited with code 3 before {url} answered; last lines of ")
    assert str(processes.log_file("worker")) in message
    assert message.endswith("\ncannot read the settings: CBSP_X is not a number")


def test_a_process_that_never_answers_times_out_naming_the_url(processes: Processes) -> None:
    process = processes.spawn("sleeper", python_code("import time; time.sleep(60)"), os.environ)
    url = f"http://127.0.0.1:{free_port()}/healthz"

    with pytest.raises(NotReady, match=f"^sleeper was not ready on {url} within 1s \\(no answer\\)"):
        processes.wait_http(url, process, timeout_s=1)
    assert process.poll() is None


def test_wait_http_without_a_process_names_what_it_awaited() -> None:
    url = f"http://127.0.0.1:{free_port()}/messages/revicom/-"

    with pytest.raises(NotReady, match="^the views of w1 was not ready on .* within 0.2s \\(no answer\\)$"):
        wait_http(url, what="the views of w1", timeout_s=0.2, interval_s=0.05)


def test_stop_kills_a_process_that_ignores_sigterm_after_the_grace_period(tmp_path: Path) -> None:
    processes = Processes(tmp_path, grace_s=0.5)
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); "
        "time.sleep(60)"
    )
    process = processes.spawn("stubborn", python_code(code), os.environ)
    try:
        wait_for_line(processes, "stubborn", "ready")
    finally:
        processes.stop()

    assert process.returncode == -signal.SIGKILL


def test_stop_only_one_leaves_the_others_running(processes: Processes) -> None:
    first = processes.spawn("first", python_code("import time; time.sleep(60)"), os.environ)
    second = processes.spawn("second", python_code("import time; time.sleep(60)"), os.environ)

    processes.stop(first)

    assert first.returncode == -signal.SIGTERM
    assert second.poll() is None
    assert processes.started == [("second", second)]


def test_a_name_started_again_is_the_last_one_and_continues_its_log(processes: Processes) -> None:
    for run in ("first run", "second run"):
        process = processes.spawn("w", python_code(f"print({run!r})"), os.environ)
        process.wait(timeout=30)

    assert processes.named("w") is process
    assert processes.log_tail("w").splitlines() == ["first run", "second run"]
    assert processes.log_tail("w", lines=1) == "second run"
    assert processes.log_tail("never-started") == ""


def test_own_session_puts_the_child_in_a_session_of_its_own(tmp_path: Path) -> None:
    processes = Processes(tmp_path, own_session=True)
    process = processes.spawn("alone", python_code("import time; time.sleep(60)"), os.environ)
    try:
        assert os.getsid(process.pid) == process.pid
        assert os.getsid(process.pid) != os.getsid(0)
    finally:
        processes.stop()


def test_free_port_can_be_bound() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", free_port()))

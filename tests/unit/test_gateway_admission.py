"""Admission control: the decision, the answer, the counts and the log, without a server.

The server worker's part (stamping the queue, writing the refusals) runs in
tests/integration/test_gateway_overload.py against a real gunicorn and a real broker.
"""

from __future__ import annotations

import json
import logging
import socket
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask

from gateway import create_app
from gateway.admission import Admission, OverloadLog, Ticket, hand_over
from gateway.metrics import render
from gateway.serverworker import AdmissionWorker, peer_closed
from gateway.settings import Settings

ADMISSION_LOGGER = "gateway.admission"


@pytest.fixture
def app() -> Flask:
    return create_app(
        Settings.from_env(
            {
                "CBSP_GATEWAY_SPOOL_ENABLED": "false",
                "CBSP_EDNA_TOKEN": "edna-token",
                "CBSP_GATEWAY_MAX_QUEUE_WAIT_S": "0.25",
                "CBSP_GATEWAY_OVERLOAD_RETRY_AFTER_S": "7",
            }
        )
    )


def metric(app: Flask, line_start: str) -> float:
    text, _ = render(app.extensions["cbsp_metrics"])
    for line in text.decode().splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no metric line starts with {line_start!r}")


def refuse(app: Flask, ticket: Ticket, path: str = "/v1/callbacks/edna") -> tuple[str, dict[str, str], Any]:
    """What the server worker writes for a request refused with ``ticket``: (status line, headers, body)."""
    admission: Admission = app.extensions["cbsp_admission"]
    reason = admission.refuses(ticket, path)
    assert reason is not None
    head, _, body = admission.refusal(ticket, reason, path, keep_alive=True).partition(b"\r\n\r\n")
    status, *lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    assert int(headers["Content-Length"]) == len(body)
    return status, headers, json.loads(body)


def test_a_callback_request_that_waited_past_the_bound_is_refused(app: Flask) -> None:
    status, headers, body = refuse(app, Ticket(waited_s=0.4, queue_full=False, queued=37))
    assert status == "HTTP/1.1 503 Service Unavailable"
    assert headers["Retry-After"] == "7"
    assert headers["Content-Type"] == "application/json"
    assert headers["Connection"] == "keep-alive"
    assert len(headers["X-Request-Id"]) == 32
    assert body["error"] == "overloaded"
    assert "waited 400 ms for a server thread (bound 250 ms)" in body["detail"]
    assert "nothing was stored" in body["detail"]
    assert metric(app, 'cbsp_gateway_overload_refused_total{reason="queue_wait"}') == 1
    assert metric(app, 'cbsp_gateway_http_requests_total{code="503",provider="edna"}') == 1
    assert metric(app, "cbsp_gateway_queue_wait_seconds_count") == 1


def test_a_request_that_found_the_queue_full_is_refused_at_once(app: Flask) -> None:
    _, _, body = refuse(app, Ticket(waited_s=0.001, queue_full=True, queued=512))
    assert "512 requests were already waiting for a server thread" in body["detail"]
    assert metric(app, 'cbsp_gateway_overload_refused_total{reason="queue_full"}') == 1


def test_within_the_bound_and_for_operations_endpoints_nothing_is_refused(app: Flask) -> None:
    admission: Admission = app.extensions["cbsp_admission"]
    assert admission.refuses(Ticket(0.2, False, 3), "/v1/callbacks/edna") is None
    assert admission.refuses(Ticket(0.3, False, 3), "/v1/callbacks/edna") == "queue_wait"
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
        assert admission.refuses(Ticket(3.0, True, 900), path) is None


def test_a_request_let_in_is_served_by_the_app_with_its_wait_observed(app: Flask) -> None:
    hand_over(Ticket(waited_s=0.2, queue_full=False, queued=3))
    response = app.test_client().post("/v1/callbacks/edna", data=b"{}", content_type="application/json")
    hand_over(None)
    assert (response.status_code, response.get_json()["error"]) == (401, "missing_credentials")
    assert metric(app, "cbsp_gateway_queue_wait_seconds_count") == 1


def test_readyz_shows_the_bounds_the_queue_and_the_refusals(app: Flask) -> None:
    hand_over(Ticket(waited_s=3.0, queue_full=True, queued=900))
    admission = app.test_client().get("/readyz").get_json()["admission"]
    assert admission["queued"] == 900
    assert admission["this_request_waited_ms"] == 3000.0
    assert (admission["max_queue_wait_ms"], admission["max_queued"]) == (250, 512)
    assert admission["state"] == "admitting"
    refuse(app, Ticket(waited_s=3.0, queue_full=False, queued=900))
    hand_over(None)
    admission = app.test_client().get("/readyz").get_json()["admission"]
    assert admission["state"] == "refusing"
    assert admission["refused"] == {"queue_wait": 1, "queue_full": 0}
    assert admission["queued"] is None  # not served by the server worker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_refusals_are_logged_once_a_second_and_the_end_once(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    log = OverloadLog(max_wait_s=0.5, clock=clock)
    with caplog.at_level(logging.WARNING, logger=ADMISSION_LOGGER):
        for step in range(300):  # 300 refusals over 3 s: 100 a second
            clock.now = 100.0 + step / 100
            log.refused(
                Ticket(0.5 + step / 1000, step % 3 == 0, 40), "queue_full" if step % 3 == 0 else "queue_wait"
            )
            log.admitted()  # requests let in meanwhile: the overload is not over
        lines = [r.getMessage() for r in caplog.records if r.name == ADMISSION_LOGGER]
        assert len(lines) == 3  # at 100.0, 101.0 and 102.0
        assert lines[0].startswith("overloaded: refused 1 callback requests with 503 since the last line")
        assert "refused 100 callback requests" in lines[1]
        assert "(67 waited over 500 ms for a thread, 33 found the queue full)" in lines[1]
        assert "longest wait 600 ms, 40 waiting now" in lines[1]
        assert "docs/runbook.md" in lines[1]
        assert log.totals == {"queue_wait": 200, "queue_full": 100}
        clock.now = 104.0
        log.admitted()
        log.admitted()
        lines = [r.getMessage() for r in caplog.records if r.name == ADMISSION_LOGGER]
    assert len(lines) == 4
    assert lines[3] == (
        "overload over: this process refused 300 callback requests in 3.0 s; it serves every request again"
    )
    assert log.refusing()  # the status says so for 5 s after the last refusal
    assert not log.refusing(within_s=1.0)
    clock.now = 108.0
    assert not log.refusing()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CBSP_GATEWAY_MAX_QUEUE_WAIT_S", "0"),
        ("CBSP_GATEWAY_MAX_QUEUE_WAIT_S", "soon"),
        ("CBSP_GATEWAY_MAX_QUEUED", "-1"),
        ("CBSP_GATEWAY_MAX_QUEUED", "1.5"),
        ("CBSP_GATEWAY_OVERLOAD_RETRY_AFTER_S", "0"),
    ],
)
def test_bad_bounds_are_refused_with_the_variable_named(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        Settings.from_env({name: value})


def test_the_defaults() -> None:
    settings = Settings.from_env({})
    assert (settings.max_queue_wait_s, settings.max_queued, settings.overload_retry_after_s) == (0.5, 512, 5)


def test_the_queue_limit_follows_the_pace_of_the_threads() -> None:
    """As many may wait as the threads start within the bound at their pace; a burst at an idle
    gateway (fast pace) may queue up to max_queued."""

    def limit(service_s: float) -> int:
        worker = SimpleNamespace(
            service_s=service_s, max_queued=512, max_wait_s=0.5, cfg=SimpleNamespace(threads=8)
        )
        return int(AdmissionWorker.queue_limit(worker))

    assert limit(0.0) == 512  # nothing served yet
    assert limit(0.002) == 512  # 2 ms a request: 2,000 could start within 0.5 s
    assert limit(0.020) == 200  # 20 ms a request (overloaded): 8 threads x 25
    assert limit(5.0) == 8  # at least one per thread


def test_a_connection_its_client_closed_is_told_from_one_with_a_request_or_none_yet() -> None:
    """A kept-alive connection that turns readable because its client closed it holds no request:
    it must not count as one waiting for a thread (it made the next client's request refused)."""
    closed, client = socket.socketpair()
    client.close()
    with_request, sender = socket.socketpair()
    sender.sendall(b"POST /v1/callbacks/edna HTTP/1.1\r\n")
    quiet, other = socket.socketpair()
    try:
        assert peer_closed(closed)
        assert not peer_closed(with_request)
        assert with_request.recv(4) == b"POST"  # peeking took nothing away
        assert not peer_closed(quiet)
    finally:
        for sock in (closed, with_request, sender, quiet, other):
            sock.close()

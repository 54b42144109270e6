"""Log output: JSON lines with the request id; secrets in query strings masked; one access line
per request, which can be turned off; gunicorn's own errors answered as JSON."""

from __future__ import annotations

import json
import logging

import pytest
from flask import Flask, g

from gateway import create_app
from gateway.logs import ACCESS_LOGGER, JsonFormatter, RequestIdFilter, TextFormatter, logging_config, redact
from gateway.server import ServerSettings
from gateway.servererrors import error_response
from gateway.settings import Settings


def record(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("gateway.test", logging.WARNING, __file__, 1, message, args, None)


def test_json_lines_carry_the_message_and_the_request_id_of_the_request_being_served() -> None:
    app = Flask(__name__)
    with app.test_request_context("/"):
        g.request_id = "abc123"
        line = record("auth failed provider=%s", "edna")
        RequestIdFilter().filter(line)
    entry = json.loads(JsonFormatter().format(line))
    assert entry["message"] == "auth failed provider=edna"
    assert entry["request_id"] == "abc123"
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "gateway.test"


def test_records_outside_a_request_have_no_request_id() -> None:
    line = record("producer connected")
    RequestIdFilter().filter(line)
    assert "request_id" not in json.loads(JsonFormatter().format(line))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("GET /v1/callbacks/edna?token=s3cret HTTP/1.1", "GET /v1/callbacks/edna?token=[redacted] HTTP/1.1"),
        ("/x?a=1&TOKEN=s3cret&b=2", "/x?a=1&TOKEN=[redacted]&b=2"),
        ("no secret here", "no secret here"),
    ],
)
def test_tokens_in_query_strings_are_masked(text: str, expected: str) -> None:
    assert redact(text) == expected
    assert "s3cret" not in TextFormatter().format(record(text.replace("%", "%%")))
    assert "s3cret" not in JsonFormatter().format(record(text.replace("%", "%%")))


def test_an_unknown_log_format_is_refused() -> None:
    with pytest.raises(ValueError, match="text, json"):
        logging_config("xml")


@pytest.mark.parametrize(
    ("status", "reason", "expected_status", "expected_code"),
    [
        (400, "Bad Request", 400, "malformed_request"),
        (414, "URI Too Long", 414, "uri_too_long"),
        (431, "Request Header Fields Too Large", 431, "headers_too_large"),
        (501, "Not Implemented", 400, "unsupported_transfer_coding"),  # never a 5xx but 503
        (500, "Internal Server Error", 503, "internal_error"),
    ],
)
def test_gunicorn_errors_are_json(status: int, reason: str, expected_status: int, expected_code: str) -> None:
    response = error_response(status, reason, "Invalid request line 'GET /?token=s3cret'")
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {expected_status} ".encode())
    assert b"Content-Type: application/json" in head
    assert f"Content-Length: {len(body)}".encode() in head
    assert json.loads(body)["error"] == expected_code
    assert b"s3cret" not in response


def test_every_503_tells_the_provider_when_to_retry() -> None:
    from gateway.errors import InternalError, KafkaUnavailableError

    for error in (KafkaUnavailableError("down"), InternalError("bug")):
        assert error.status == 503
        assert int(error.headers()["Retry-After"]) > 0


def access_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == ACCESS_LOGGER]


def test_one_access_line_per_request_with_its_id_and_no_query_string(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = create_app(Settings.from_env({"CBSP_GATEWAY_SPOOL_ENABLED": "false"}))
    with caplog.at_level(logging.INFO):
        response = app.test_client().get("/healthz?token=s3cret", environ_base={"REMOTE_ADDR": "10.1.2.3"})
        refused = app.test_client().post("/v1/callbacks/edna?token=s3cret", data=b"{}")
    (line, refused_line) = access_lines(caplog)
    request_id = response.headers["X-Request-Id"]
    text = TextFormatter().format(line)
    assert f'10.1.2.3 "GET /healthz" 200 {len(response.data)} ' in text
    assert text.endswith(f"request_id={request_id}")
    assert json.loads(JsonFormatter().format(line))["request_id"] == request_id
    assert f"request_id={refused.headers['X-Request-Id']} error=provider_not_configured" in (
        refused_line.getMessage()
    )
    assert " 403 " in refused_line.getMessage()
    assert "s3cret" not in caplog.text


def test_access_lines_can_be_turned_off(caplog: pytest.LogCaptureFixture) -> None:
    config = ServerSettings.from_env({"CBSP_GATEWAY_ACCESS_LOG": "false"}).gunicorn_options()[
        "logconfig_dict"
    ]
    assert config["loggers"][ACCESS_LOGGER]["level"] == "WARNING"
    assert logging_config("text")["loggers"][ACCESS_LOGGER]["level"] == "INFO"  # on by default
    app = create_app(Settings.from_env({"CBSP_GATEWAY_SPOOL_ENABLED": "false"}))
    with caplog.at_level(logging.WARNING, logger=ACCESS_LOGGER):
        app.test_client().get("/healthz")
    assert access_lines(caplog) == []

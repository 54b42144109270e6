"""Log output: JSON lines with the request id; secrets in query strings masked; gunicorn's own
errors answered as JSON."""

from __future__ import annotations

import json
import logging

import pytest
from flask import Flask, g

from gateway.logs import JsonFormatter, RequestIdFilter, TextFormatter, logging_config, redact
from gateway.servererrors import error_response


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

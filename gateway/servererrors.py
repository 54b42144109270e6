"""JSON bodies for the errors gunicorn answers itself, before the app sees a request.

Gunicorn refuses a malformed request line, bad headers, an oversized request line or
header block, or a bad chunked framing with a small HTML page of its own
(``gunicorn.util.write_error``). :func:`install` replaces that one function, so those
answers are the gateway's JSON error shape too. A status gunicorn would send as 5xx
becomes 503 (internal error) or 400 (a transfer coding it does not support): the
contract has no 5xx but 503.
"""

from __future__ import annotations

import json
import socket

from gunicorn import util

from gateway.errors import KafkaUnavailableError
from gateway.logs import redact

CODES = {
    400: "malformed_request",
    403: "forbidden",
    414: "uri_too_long",
    417: "expectation_failed",
    431: "headers_too_large",
}


def error_response(status: int, reason: str, message: str) -> bytes:
    """A complete HTTP/1.1 response (head and JSON body) that closes the connection."""
    code = CODES.get(status, "malformed_request")
    detail = redact(message) or reason
    extra = ""
    if status == 501:
        status, reason, code = 400, "Bad Request", "unsupported_transfer_coding"
    elif status >= 500:
        status, reason, code = 503, "Service Unavailable", "internal_error"
        detail = "internal error; retry later"
        extra = f"Retry-After: {KafkaUnavailableError.retry_after_s}\r\n"
    body = json.dumps({"error": code, "detail": detail}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{extra}\r\n"
    )
    return head.encode("latin-1", "replace") + body


def write_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    util.write_nonblock(sock, error_response(status_int, reason, mesg))


def install() -> None:
    """Make gunicorn answer its own errors with :func:`write_error` (in this process and its forks)."""
    util.write_error = write_error

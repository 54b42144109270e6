"""Log output of the gateway: one format for the app's and gunicorn's lines, text or JSON.

Every record made while a request is served carries that request's id (``request_id``),
the one returned in the ``X-Request-Id`` header. A ``token=`` query value that
reached a log line anyway (gunicorn quotes a malformed request line when it refuses
it) is masked before anything is written.

The app writes one access line per request it answers (logger ``gateway.access``, INFO):
the path without its query string (a token may be in it), status, size, duration,
request id, and for a callback URL what became of the callbacks. gunicorn's own access
log is off: it cost several times as much per line (it collects every header and
environ entry for its atoms). ``CBSP_GATEWAY_ACCESS_LOG=false`` turns the access lines off.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

from flask import g, has_app_context

LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s %(message)s"
ACCESS_LOGGER = "gateway.access"
# path without the query string (a token may be in it), no user name
ACCESS_FORMAT = '%s "%s %s" %d %d %.1fms request_id=%s%s'
SECRET_QUERY = re.compile(r"(?i)([?&;]token=)[^&;\s\"']*")


def redact(text: str) -> str:
    return SECRET_QUERY.sub(r"\1[redacted]", text)


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to records made while a request is served (else leaves them alone)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id") and has_app_context():
            request_id = g.get("request_id")
            if request_id:
                record.request_id = request_id
        return True


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "process": record.process,
            "message": redact(record.getMessage()),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            entry["request_id"] = request_id
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


access_logger = logging.getLogger(ACCESS_LOGGER)


def log_access(
    peer: str, method: str, path: str, status: int, size: int, seconds: float, request_id: str, note: str
) -> None:
    """The access line of one answered request (``note``: e.g. `` provider=... held=kafka``)."""
    if access_logger.isEnabledFor(logging.INFO):
        access_logger.info(
            ACCESS_FORMAT,
            peer,
            method,
            path,
            status,
            size,
            seconds * 1000,
            request_id,
            note,
            extra={"request_id": request_id},
        )


def logging_config(log_format: str, level: str = "INFO", access_log: bool = True) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for the app and gunicorn: one stderr handler, one format;
    ``access_log``: one line per request (``gateway.access`` at INFO), else none."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, not {log_format!r}")
    formatter = JsonFormatter if log_format == "json" else TextFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"main": {"()": formatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "main",
                "filters": ["request_id"],
            }
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": [], "propagate": True},
            "gunicorn.access": {"level": "INFO", "handlers": [], "propagate": True},
            ACCESS_LOGGER: {"level": "INFO" if access_log else "WARNING", "handlers": [], "propagate": True},
        },
    }

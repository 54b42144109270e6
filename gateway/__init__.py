"""The HTTP gateway: provider callbacks in, raw records on Kafka out.

``create_app`` is the only place that wires settings, blueprints, error handlers,
metrics and the producer. It runs in each server process after the fork.
Every answer other than a success is the JSON ``{"error": CODE, "detail": TEXT}``.
"""

from __future__ import annotations

import atexit
import logging
import time
import uuid

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from gateway import callbacks, ops
from gateway.admission import Admission, AdmissionControl
from gateway.delivery import Delivery
from gateway.drainer import Drainer
from gateway.errors import GatewayError, InternalError
from gateway.logs import log_access
from gateway.metrics import create_metrics
from gateway.producer import RawProducer
from gateway.settings import Settings
from gateway.spool import Spool

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-Id"
HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
}


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config["CBSP_SETTINGS"] = settings
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.url_map.merge_slashes = False  # werkzeug answers those with redirects, HTML bodies
    app.url_map.strict_slashes = False  # (a trailing slash too)
    producer = RawProducer(settings.bootstrap_servers, settings.produce_timeout_s, settings.max_body_bytes)
    metrics = create_metrics()
    spool = (
        Spool(settings.spool_dir, settings.spool_max_bytes, settings.spool_min_free_bytes)
        if settings.spool_enabled
        else None
    )
    app.extensions["cbsp_producer"] = producer
    app.extensions["cbsp_metrics"] = metrics
    app.extensions["cbsp_spool"] = spool
    app.extensions["cbsp_delivery"] = Delivery(producer, spool, settings.spool_after_s)
    app.extensions["cbsp_drainer"] = Drainer(spool, producer, metrics) if spool is not None else None
    # the server worker (gateway.serverworker) asks it before the app sees a request
    admission = app.extensions["cbsp_admission"] = Admission(
        metrics, settings.max_queue_wait_s, settings.overload_retry_after_s
    )
    app.wsgi_app = AdmissionControl(app.wsgi_app, admission)  # type: ignore[method-assign]
    atexit.register(close_app, app)
    app.register_blueprint(callbacks.blueprint)
    app.register_blueprint(ops.blueprint)
    _register_request_hooks(app)
    _register_error_handlers(app)
    return app


def start_background(app: Flask) -> None:
    """In a server process: connect to Kafka now, and drain the spool (gunicorn's post_worker_init)."""
    producer: RawProducer = app.extensions["cbsp_producer"]
    producer.warm_up()
    drainer: Drainer | None = app.extensions["cbsp_drainer"]
    if drainer is not None:
        drainer.start()


def close_app(app: Flask) -> None:
    """Stop draining, flush and stop the producer (gunicorn's worker_exit); safe to call twice."""
    drainer: Drainer | None = app.extensions["cbsp_drainer"]
    if drainer is not None:
        drainer.stop()
    producer: RawProducer = app.extensions["cbsp_producer"]
    producer.close()
    spool: Spool | None = app.extensions["cbsp_spool"]
    if spool is not None:
        spool.close()


def _register_request_hooks(app: Flask) -> None:
    metrics = app.extensions["cbsp_metrics"]

    @app.before_request
    def assign_request_id() -> None:
        g.started = time.perf_counter()
        g.request_id = uuid.uuid4().hex

    @app.after_request
    def finish(response: Response) -> Response:
        request_id = g.get("request_id", "")
        response.headers[REQUEST_ID_HEADER] = request_id
        path = request.path
        status = response.status_code
        metrics.count_request(callbacks.provider_label(path), status)
        log_access(
            request.remote_addr or "-",
            request.method,
            path,
            status,
            response.content_length or 0,
            time.perf_counter() - g.get("started", time.perf_counter()),
            request_id,
            g.get("access_note", ""),
        )
        return response


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(Exception)
    def unexpected_error(exc: Exception) -> tuple[Response, int, dict[str, str]]:
        request_id = g.get("request_id")
        logger.exception("unexpected error request_id=%s path=%s", request_id, request.path)
        error = InternalError(f"internal error (request_id={request_id}); retry later")
        return jsonify(error.body()), error.status, error.headers()

    @app.errorhandler(GatewayError)
    def gateway_error(exc: GatewayError) -> tuple[Response, int, dict[str, str]]:
        g.access_note = f"{g.get('access_note', '')} error={exc.code}"
        return jsonify(exc.body()), exc.status, exc.headers()

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Response, int, dict[str, str]]:
        status = exc.code or 400
        if status >= 500:
            return unexpected_error(exc)
        detail = exc.description or exc.name
        if status == 413:
            detail = f"request body is larger than the limit of {app.config['MAX_CONTENT_LENGTH']} bytes"
        if status == 405:
            detail = f"{request.method} is not allowed on {request.path}; allowed: {_allowed(exc)}"
        headers = {name: value for name, value in exc.get_headers() if name.lower() != "content-type"}
        code = HTTP_CODES.get(status) or exc.name.lower().replace(" ", "_").replace("'", "")
        return jsonify(error=code, detail=detail), status, headers


def _allowed(exc: HTTPException) -> str:
    allow = dict(exc.get_headers()).get("Allow", "")
    return allow or "none"

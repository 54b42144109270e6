"""The HTTP gateway: provider callbacks in, raw records on Kafka out.

``create_app`` is the only place that wires settings, blueprints, error handlers
and the producer. It runs in each server process after the fork.
"""

from __future__ import annotations

import atexit
import logging
import uuid

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from gateway import callbacks, ops
from gateway.errors import GatewayError, KafkaUnavailableError
from gateway.producer import RawProducer
from gateway.settings import Settings

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-Id"
HTTP_CODES = {
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
    producer = RawProducer(settings.bootstrap_servers, settings.produce_timeout_s)
    app.extensions["cbsp_producer"] = producer
    atexit.register(producer.close)
    app.register_blueprint(callbacks.blueprint)
    app.register_blueprint(ops.blueprint)
    _register_request_id(app)
    _register_error_handlers(app)
    return app


def _register_request_id(app: Flask) -> None:
    @app.before_request
    def assign_request_id() -> None:
        g.request_id = uuid.uuid4().hex

    @app.after_request
    def echo_request_id(response: Response) -> Response:
        response.headers[REQUEST_ID_HEADER] = g.get("request_id", "")
        return response


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(GatewayError)
    def gateway_error(exc: GatewayError) -> tuple[Response, int, dict[str, str]]:
        return jsonify(exc.body()), exc.status, exc.headers()

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Response, int]:
        status = exc.code or 400
        code = HTTP_CODES.get(status, "bad_request")
        detail = exc.description or exc.name
        if status == 413:
            limit = app.config["MAX_CONTENT_LENGTH"]
            detail = f"request body is larger than the limit of {limit} bytes"
        return jsonify(error=code, detail=detail), status

    @app.errorhandler(Exception)
    def unexpected_error(exc: Exception) -> tuple[Response, int, dict[str, str]]:
        logger.exception("unexpected error request_id=%s path=%s", g.get("request_id"), request.path)
        error = KafkaUnavailableError(
            f"internal error (request_id={g.get('request_id')}); nothing was stored, retry later"
        )
        body = {"error": "internal_error", "detail": error.detail}
        return jsonify(body), error.status, error.headers()

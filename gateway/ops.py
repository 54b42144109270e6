"""Operations endpoints: liveness and readiness."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue

from gateway.producer import RawProducer

blueprint = Blueprint("ops", __name__)


@blueprint.get("/healthz")
def healthz() -> ResponseReturnValue:
    return jsonify(status="ok")


@blueprint.get("/readyz")
def readyz() -> ResponseReturnValue:
    producer: RawProducer = current_app.extensions["cbsp_producer"]
    if producer.is_ready():
        return jsonify(status="ready", kafka="reachable")
    return jsonify(status="not_ready", kafka="unreachable"), 503, {"Retry-After": "5"}

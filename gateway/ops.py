"""Operations endpoints: liveness, readiness, Prometheus metrics, the OpenAPI document."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue

from gateway.metrics import render
from gateway.openapi import build_spec
from gateway.producer import RawProducer
from gateway.providers import REGISTRY

blueprint = Blueprint("ops", __name__)

READY_RETRY_AFTER_S = 5


@blueprint.get("/healthz")
def healthz() -> ResponseReturnValue:
    return jsonify(status="ok")


@blueprint.get("/readyz")
def readyz() -> ResponseReturnValue:
    producer: RawProducer = current_app.extensions["cbsp_producer"]
    if producer.is_ready():
        return jsonify(status="ready", kafka="reachable")
    body = {
        "error": "not_ready",
        "detail": "Kafka is not reachable",
        "status": "not_ready",
        "kafka": "unreachable",
    }
    return jsonify(body), 503, {"Retry-After": str(READY_RETRY_AFTER_S)}


@blueprint.get("/metrics")
def metrics() -> ResponseReturnValue:
    text, content_type = render(current_app.extensions["cbsp_metrics"])
    return text, 200, {"Content-Type": content_type}


@blueprint.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    return jsonify(build_spec(REGISTRY))

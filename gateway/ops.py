"""Operations endpoints: liveness, readiness, Prometheus metrics, the OpenAPI document."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from gateway.admission import ENVIRON_KEY, Admission, Ticket
from gateway.errors import SpoolUnavailableError
from gateway.metrics import Metrics, render
from gateway.openapi import build_spec
from gateway.producer import RawProducer
from gateway.providers import REGISTRY
from gateway.spool import Spool, SpoolStats

blueprint = Blueprint("ops", __name__)

READY_RETRY_AFTER_S = 5


@blueprint.get("/healthz")
def healthz() -> ResponseReturnValue:
    return jsonify(status="ok")


@blueprint.get("/readyz")
def readyz() -> ResponseReturnValue:
    """Ready: Kafka answers and the spool is empty. Degraded (still 200): callbacks are being
    spooled or drained. Not ready (503): neither Kafka nor the spool can take a callback.
    Refusing requests for overload changes none of that (``admission`` says so): taking a
    gateway out of the balancer for it would move its load onto the others."""
    producer: RawProducer = current_app.extensions["cbsp_producer"]
    spool: Spool | None = current_app.extensions["cbsp_spool"]
    kafka = producer.is_ready()
    body: dict[str, Any] = {"kafka": "reachable" if kafka else "unreachable", "admission": _admission_body()}
    spool_takes = False
    if spool is not None:
        stats = _spool_stats(spool)
        spool_takes = stats is not None and spool.has_room(stats)
        body["spool"] = _spool_body(spool, stats)
    if kafka and body.get("spool", {}).get("records", 0) == 0:
        return jsonify(status="ready", **body)
    if kafka or spool_takes:
        return jsonify(status="degraded", **body)
    detail = "Kafka is not reachable" + ("" if spool is None else " and the spool cannot take records")
    headers = {"Retry-After": str(READY_RETRY_AFTER_S)}
    return jsonify(error="not_ready", detail=detail, status="not_ready", **body), 503, headers


@blueprint.get("/metrics")
def metrics() -> ResponseReturnValue:
    registered: Metrics = current_app.extensions["cbsp_metrics"]
    spool: Spool | None = current_app.extensions["cbsp_spool"]
    stats = _spool_stats(spool) if spool is not None else None
    if stats is not None:
        registered.spool_records.set(stats.records)
        registered.spool_oldest_age.set(stats.oldest_age_s())
    text, content_type = render(registered)
    return text, 200, {"Content-Type": content_type}


@blueprint.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    return jsonify(build_spec(REGISTRY))


def _admission_body() -> dict[str, Any]:
    """This process's admission control: its bounds, its queue as this request saw it, refusals."""
    settings = current_app.config["CBSP_SETTINGS"]
    admission: Admission = current_app.extensions["cbsp_admission"]
    overload = admission.log
    ticket: Ticket | None = request.environ.get(ENVIRON_KEY)
    return {
        "state": "refusing" if overload.refusing() else "admitting",
        "max_queue_wait_ms": round(settings.max_queue_wait_s * 1000),
        "max_queued": settings.max_queued,
        "queued": ticket.queued if ticket else None,
        "this_request_waited_ms": round(ticket.waited_s * 1000, 1) if ticket else None,
        "refused": dict(overload.totals),
    }


def _spool_stats(spool: Spool) -> SpoolStats | None:
    try:
        return spool.stats()
    except SpoolUnavailableError:
        return None


def _spool_body(spool: Spool, stats: SpoolStats | None) -> dict[str, Any]:
    if stats is None:
        return {"state": "unavailable", "path": str(spool.path)}
    return {
        "state": "ok" if spool.has_room(stats) else "full",
        "records": stats.records,
        "bytes": stats.bytes,
        "max_bytes": spool.max_bytes,
        "oldest_age_s": round(stats.oldest_age_s(), 3),
    }

"""``POST /v1/callbacks/<provider>``: authenticate -> parse and split -> produce raw -> 200."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Request, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue

from gateway.auth import authenticate
from gateway.bodies import decode_body
from gateway.errors import ShapeError, UnknownProviderError, UnparseableBodyError
from gateway.producer import OutRecord, RawProducer
from gateway.providers import REGISTRY, Callback, Provider
from gateway.settings import Settings

logger = logging.getLogger(__name__)

blueprint = Blueprint("callbacks", __name__)


@blueprint.post("/v1/callbacks/<provider_name>")
def receive(provider_name: str) -> ResponseReturnValue:
    settings: Settings = current_app.config["CBSP_SETTINGS"]
    producer: RawProducer = current_app.extensions["cbsp_producer"]
    provider = REGISTRY.get(provider_name)
    if provider is None:
        raise UnknownProviderError(
            f"no provider named {provider_name!r}; known: {', '.join(sorted(REGISTRY))}"
        )
    authenticate(request, provider_name, settings.auth[provider_name])
    headers = _common_headers(request, provider_name)
    try:
        callbacks = provider.split(_parse_body(request, provider))
    except (ShapeError, UnparseableBodyError) as exc:
        producer.send_all([_rejected_record(settings, request, headers, exc.detail)])
        logger.info("refused request_id=%s provider=%s reason=%s", g.request_id, provider_name, exc.detail)
        raise
    producer.send_all([_raw_record(settings, callback, headers) for callback in callbacks])
    logger.info(
        "accepted request_id=%s provider=%s callbacks=%d", g.request_id, provider_name, len(callbacks)
    )
    if callbacks and all(c.kind in provider.empty_reply_kinds for c in callbacks):
        return "", 200, {"Content-Type": "text/plain; charset=utf-8"}
    return jsonify(accepted=len(callbacks))


def _parse_body(req: Request, provider: Provider) -> Any:
    return decode_body(
        req.get_data(cache=True),
        req.mimetype,
        req.mimetype_params.get("charset"),
        provider.content_types,
        provider.name,
    )


def _common_headers(req: Request, provider: str) -> list[tuple[str, bytes]]:
    received_at = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return [
        ("provider", provider.encode()),
        ("received_at", received_at.encode()),
        ("request_id", g.request_id.encode()),
        ("source_ip", (req.remote_addr or "").encode()),
    ]


def _raw_record(settings: Settings, callback: Callback, headers: list[tuple[str, bytes]]) -> OutRecord:
    value = json.dumps(callback.payload, ensure_ascii=False, separators=(",", ":")).encode()
    return OutRecord(
        topic=settings.topics.raw(callback.provider),
        key=callback.message_key.encode(),
        value=value,
        headers=[*headers, ("kind", callback.kind.encode())],
    )


def _rejected_record(
    settings: Settings, req: Request, headers: list[tuple[str, bytes]], reason: str
) -> OutRecord:
    return OutRecord(
        topic=settings.topics.rejected,
        key=g.request_id.encode(),
        value=req.get_data(cache=True),
        headers=[*headers, ("kind", b"rejected"), ("error", reason.encode())],
    )

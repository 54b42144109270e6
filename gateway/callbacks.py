"""``POST /v1/callbacks/<provider>``: authenticate -> read, parse, split -> produce raw -> 200.

A body this provider does not send (content type, encoding, shape) is written with
the reason to ``callbacks.rejected`` before the error is answered, so nothing an
authenticated provider sent is lost; Kafka not acknowledging that either is a 503.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from flask import Blueprint, current_app, g, request
from flask.typing import ResponseReturnValue

from gateway.addresses import client_address
from gateway.auth import authenticate, presented_credentials
from gateway.bodies import decode_body, read_body
from gateway.delivery import Delivery, Outcome
from gateway.errors import (
    AuthError,
    GatewayError,
    KafkaUnavailableError,
    ShapeError,
    UnknownProviderError,
    UnparseableBodyError,
    UnsupportedMediaTypeError,
)
from gateway.metrics import Metrics
from gateway.producer import OutRecord
from gateway.providers import REGISTRY, Callback, Provider
from gateway.settings import Settings

logger = logging.getLogger(__name__)

blueprint = Blueprint("callbacks", __name__)

CALLBACK_PREFIX = "/v1/callbacks/"
FORWARDED_FOR = "X-Forwarded-For"
Headers = list[tuple[str, bytes]]


@blueprint.post(CALLBACK_PREFIX + "<provider_name>")
def receive(provider_name: str) -> ResponseReturnValue:
    settings: Settings = current_app.config["CBSP_SETTINGS"]
    provider = _provider(provider_name)
    forwarded_for = request.headers.getlist(FORWARDED_FOR)
    client = client_address(request.remote_addr or "", forwarded_for, settings.trusted_proxies)
    _authenticate(settings, provider.name, client)
    raw = read_body(request.environ, request.content_length, settings.max_body_bytes)
    headers = _common_headers(provider.name, client)
    try:
        callbacks = provider.split(_parse(raw, provider))
        records = [_raw_record(settings, callback, headers) for callback in callbacks]
    except (ShapeError, UnparseableBodyError, UnsupportedMediaTypeError) as exc:
        _keep_rejected(settings, provider.name, raw, headers, exc)
        raise
    outcome = _produce(records, provider.name)
    _count_accepted(provider.name, callbacks, outcome)
    return _reply(provider, callbacks)


def _provider(name: str) -> Provider:
    provider = REGISTRY.get(name)
    if provider is None:
        raise UnknownProviderError(f"no provider named {name!r}; known: {', '.join(sorted(REGISTRY))}")
    return provider


def _reply(provider: Provider, callbacks: Sequence[Callback]) -> ResponseReturnValue:
    if all(callback.kind in provider.empty_reply_kinds for callback in callbacks):
        return "", 200, {"Content-Type": "text/plain; charset=utf-8"}  # e.g. recessmobile: no auto-reply
    # what jsonify(accepted=N) answers, without its generic encoder (a tenth of the time)
    return current_app.response_class(f'{{"accepted":{len(callbacks)}}}\n', mimetype="application/json")


def provider_label(path: str) -> str:
    """The ``provider`` metric label of a request path: bounded, never the raw path."""
    if not path.startswith(CALLBACK_PREFIX):
        return "none"
    name = path[len(CALLBACK_PREFIX) :]
    return name if name in REGISTRY else "unknown"


def _authenticate(settings: Settings, provider: str, client: str) -> None:
    try:
        authenticate(provider, settings.auth[provider], client, presented_credentials(request))
    except AuthError as exc:
        _metrics().auth_failures.labels(provider=provider, reason=exc.code).inc()
        logger.warning(
            "auth failed request_id=%s provider=%s reason=%s peer=%s client=%s",
            g.request_id,
            provider,
            exc.code,
            request.remote_addr,
            client,
        )
        raise


def _parse(raw: bytes, provider: Provider) -> object:
    charset = request.mimetype_params.get("charset")
    return decode_body(raw, request.mimetype, charset, provider.content_types, provider.name)


def _produce(records: Sequence[OutRecord], provider: str) -> Outcome:
    """Kafka acknowledged the records, or the spool holds them (``outcome``); 503 otherwise."""
    delivery: Delivery = current_app.extensions["cbsp_delivery"]
    started = time.perf_counter()
    label = "error"
    try:
        outcome = delivery.deliver(records, provider, g.request_id)
        label = outcome
    except KafkaUnavailableError:
        label = "unavailable"
        raise
    finally:
        _metrics().observe_produce(label, time.perf_counter() - started)
    if outcome == "spooled":
        _metrics().spooled.labels(provider=provider).inc(len(records))
    return outcome


def _keep_rejected(
    settings: Settings, provider: str, raw: bytes, headers: Headers, exc: GatewayError
) -> None:
    content_type = request.headers.get("Content-Type", "")
    record = OutRecord(
        topic=settings.topics.rejected,
        key=g.request_id.encode(),
        value=raw,
        headers=[
            *headers,
            ("kind", b"rejected"),
            ("error", exc.detail.encode()),
            ("content_type", content_type.encode()),
        ],
    )
    _produce([record], provider)
    _metrics().rejected.labels(provider=provider, error=exc.code).inc()
    logger.info(
        "refused request_id=%s provider=%s error=%s detail=%s", g.request_id, provider, exc.code, exc.detail
    )


def _count_accepted(provider: str, callbacks: Sequence[Callback], outcome: Outcome) -> None:
    """Count the callbacks; what became of them goes into the request's access line."""
    metrics = _metrics()
    kinds = set()
    for callback in callbacks:
        metrics.count_accepted(provider, callback.kind)
        kinds.add(callback.kind)
    g.access_note = (
        f" provider={provider} callbacks={len(callbacks)} kinds={','.join(sorted(kinds))}"
        f" held={'kafka' if outcome == 'acknowledged' else 'spool'}"
    )


def _metrics() -> Metrics:
    metrics: Metrics = current_app.extensions["cbsp_metrics"]
    return metrics


def _common_headers(provider: str, client: str) -> Headers:
    received_at = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return [
        ("provider", provider.encode()),
        ("received_at", received_at.encode()),
        ("request_id", g.request_id.encode()),
        ("source_ip", client.encode()),
    ]


def _raw_record(settings: Settings, callback: Callback, headers: Headers) -> OutRecord:
    value = json.dumps(callback.payload, ensure_ascii=False, separators=(",", ":")).encode()
    return OutRecord(
        topic=settings.topics.raw(callback.provider),
        key=callback.message_key.encode(),
        value=value,
        headers=[*headers, ("kind", callback.kind.encode())],
    )

"""The OpenAPI 3 description of the gateway (DESIGN.md, "Gateway HTTP contract"), served at
``GET /openapi.json``: built from the provider registry, so a new provider appears by itself."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.auth import TOKEN_HEADER, TOKEN_PARAMETER
from gateway.bodies import FORM, JSON
from gateway.providers import Provider

JSONObject = dict[str, Any]
ERROR_SCHEMA = {"$ref": "#/components/schemas/Error"}
# status -> (what it means, the error codes it carries)
CALLBACK_ERRORS: dict[int, tuple[str, list[str]]] = {
    400: ("Not parseable, not this provider's shape, a field missing or of the wrong type; the body "
          "is kept in callbacks.rejected", ["unparseable_body", "invalid_callback", "bad_request"]),
    401: ("No credentials, or wrong ones", ["missing_credentials", "wrong_credentials"]),
    403: ("The provider has no credentials configured, or the caller's address is not in its "
          "allowlist", ["provider_not_configured", "address_not_allowed"]),
    404: ("No provider of that name", ["unknown_provider", "not_found"]),
    405: ("Only POST is allowed on a callback URL", ["method_not_allowed"]),
    413: ("The body is over the limit (default 1 MiB), or Kafka refuses a record that large",
          ["body_too_large"]),
    415: ("The provider does not send this content type (kept in callbacks.rejected)",
          ["unsupported_media_type"]),
    503: ("Kafka did not acknowledge in time, or an internal error: nothing is promised, retry "
          "after Retry-After seconds", ["kafka_unavailable", "internal_error"]),
}  # fmt: skip


def build_spec(providers: Mapping[str, Provider]) -> JSONObject:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Callback stream processor gateway",
            "version": "1",
            "description": "Provider callbacks in; a 200 means Kafka acknowledged every record (acks=all).",
        },
        "paths": {
            "/v1/callbacks/{provider}": {"post": _callback_operation(providers)},
            "/healthz": {"get": _probe("Liveness: the process answers", {200: "alive"})},
            "/readyz": {"get": _probe("Readiness: Kafka is reachable", {200: "ready", 503: "not ready"})},
            "/metrics": {"get": _text_operation("Prometheus metrics", "text/plain")},
            "/openapi.json": {"get": _text_operation("This document", "application/json")},
        },
        "components": {"schemas": _schemas(), "securitySchemes": _security_schemes()},
    }


def _callback_operation(providers: Mapping[str, Provider]) -> JSONObject:
    content_types = sorted({ct for provider in providers.values() for ct in provider.content_types})
    bodies = {
        JSON: {"schema": {}},
        FORM: {"schema": {"type": "object", "additionalProperties": {"type": "string"}}},
    }
    responses: JSONObject = {
        "200": {
            "description": "Every callback of the request is acknowledged by Kafka. RecessMobile's "
            "incoming_message (and other non-report types) get an empty body: no auto-reply.",
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Accepted"}},
                "text/plain": {"schema": {"type": "string", "maxLength": 0}},
            },
        },
        **{
            str(status): _error_response(status, text, codes)
            for status, (text, codes) in CALLBACK_ERRORS.items()
        },
    }
    return {
        "summary": "Receive a provider's callback(s)",
        "operationId": "receiveCallbacks",
        "parameters": [
            {
                "name": "provider",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "enum": sorted(providers)},
            },
            {"name": TOKEN_PARAMETER, "in": "query", "required": False, "schema": {"type": "string"}},
            {"name": TOKEN_HEADER, "in": "header", "required": False, "schema": {"type": "string"}},
        ],
        "security": [{"basic": []}, {"tokenQuery": []}, {"tokenHeader": []}],
        "requestBody": {"required": True, "content": {ct: bodies[ct] for ct in content_types}},
        "responses": responses,
    }


def _error_response(status: int, text: str, codes: list[str]) -> JSONObject:
    response: JSONObject = {
        "description": f"{text}. Error codes: {', '.join(codes)}.",
        "content": {"application/json": {"schema": ERROR_SCHEMA}},
    }
    if status == 503:
        response["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}}
    if status == 401:
        response["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
    return response


def _probe(summary: str, statuses: Mapping[int, str]) -> JSONObject:
    schema = {"type": "object", "properties": {"status": {"type": "string"}}, "required": ["status"]}
    return {
        "summary": summary,
        "security": [],
        "responses": {
            str(status): {"description": text, "content": {"application/json": {"schema": schema}}}
            for status, text in statuses.items()
        },
    }


def _text_operation(summary: str, content_type: str) -> JSONObject:
    return {
        "summary": summary,
        "security": [],
        "responses": {"200": {"description": summary, "content": {content_type: {"schema": {}}}}},
    }


def _schemas() -> JSONObject:
    return {
        "Accepted": {
            "type": "object",
            "properties": {"accepted": {"type": "integer", "minimum": 1}},
            "required": ["accepted"],
        },
        "Error": {
            "type": "object",
            "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
            "required": ["error", "detail"],
        },
    }


def _security_schemes() -> JSONObject:
    return {
        "basic": {"type": "http", "scheme": "basic"},
        "tokenQuery": {"type": "apiKey", "in": "query", "name": TOKEN_PARAMETER},
        "tokenHeader": {"type": "apiKey", "in": "header", "name": TOKEN_HEADER},
    }

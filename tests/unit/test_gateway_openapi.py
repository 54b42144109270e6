"""The OpenAPI document: valid OpenAPI 3, every provider, every status the gateway answers."""

from __future__ import annotations

import schemathesis

from gateway.openapi import CALLBACK_ERRORS, build_spec
from gateway.providers import REGISTRY


def test_the_document_is_valid_openapi_3() -> None:
    spec = build_spec(REGISTRY)
    schemathesis.openapi.from_dict(spec).validate()
    assert spec["openapi"].startswith("3.")


def test_every_provider_and_every_status_is_described() -> None:
    operation = build_spec(REGISTRY)["paths"]["/v1/callbacks/{provider}"]["post"]
    (provider,) = [p for p in operation["parameters"] if p["name"] == "provider"]
    assert provider["schema"]["enum"] == sorted(REGISTRY)
    assert set(operation["responses"]) == {"200", "400", "401", "403", "404", "405", "413", "415", "503"}
    for status in CALLBACK_ERRORS:
        response = operation["responses"][str(status)]
        assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    assert "Retry-After" in operation["responses"]["503"]["headers"]
    assert set(operation["requestBody"]["content"]) == {
        "application/json",
        "application/x-www-form-urlencoded",
    }


def test_the_operations_endpoints_are_described() -> None:
    paths = build_spec(REGISTRY)["paths"]
    assert set(paths) == {"/v1/callbacks/{provider}", "/healthz", "/readyz", "/metrics", "/openapi.json"}
    assert set(paths["/readyz"]["get"]["responses"]) == {"200", "503"}

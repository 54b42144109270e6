"""Fuzzing the served gateway with a few thousand requests: hypothesis-made raw requests (any
method, path, content type, charset, credentials, forwarded-for, body) and schemathesis
cases from the served /openapi.json, positive and negative, with its conformance checks.

Whatever comes in: never a 5xx but 503 (and Kafka is up here, so never an internal
error), every error is the JSON ``{"error", "detail"}`` shape, and the server process
and its workers stay up (no worker is ever replaced).
"""

from __future__ import annotations

import json
import string
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from schemas.topicnames import PROVIDERS
from tests.cases import load_cases
from tests.integration.pipeline import Pipeline

TOKEN = "fuzz-token"  # noqa: S105  (a test credential)
BASIC = ("fuzz", "fuzz-password")
LIMIT = 16 * 1024
RAW_EXAMPLES = 1500
SCHEMA_EXAMPLES = 600  # per generation mode
FUZZ_SETTINGS = dict(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


@pytest.fixture(scope="module")
def gateway(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    running = Pipeline(kafka_bootstrap, tmp_path_factory.mktemp("gateway-fuzz"))
    credentials = {f"CBSP_{p.upper()}_TOKEN": TOKEN for p in PROVIDERS}
    try:
        running.create_topics()
        running.gateway_url = running.spawn_gateway(
            workers=2,
            CBSP_MAX_BODY_BYTES=str(LIMIT),
            CBSP_REVICOM_BASIC_AUTH=":".join(BASIC),
            CBSP_TRUSTED_PROXIES="127.0.0.1",
            **credentials,
        )
        yield running
        assert_still_up(running)
    finally:
        running.stop()


def assert_still_up(gateway: Pipeline) -> None:
    assert gateway.process("gateway").poll() is None, gateway.log_tail("gateway")
    log = gateway.log_tail("gateway", 1_000_000)
    assert log.count("Booting worker") == 2, "a worker died and was replaced"
    assert "unexpected error" not in log


def assert_acceptable(response: requests.Response | schemathesis.Response, method: str) -> None:
    """The contract's promises for any answer to any request."""
    status = response.status_code
    assert status < 500 or status == 503, (status, response.content)
    header_names = {name.lower() for name in response.headers}
    assert "x-request-id" in header_names or status in (400, 414, 431), response.headers  # else gunicorn's
    if status >= 400 and method != "HEAD":
        body = json.loads(response.content)
        assert isinstance(body["error"], str) and isinstance(body["detail"], str), body
        assert not (status == 503 and body["error"] != "kafka_unavailable"), body  # Kafka is up: no other 503


# -- hypothesis: raw requests ---------------------------------------------------

PRINTABLE = st.text(alphabet=string.printable.strip() + " éß€😀", max_size=40)
HEADER_TEXT = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60).map(
    str.lstrip
)
SAMPLES = [(case.provider, case.content_type, case.body_bytes()) for case in load_cases()]
CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=utf-16",
    "application/json; charset=latin-1",
    "application/json; charset=base64",
    "application/json; charset=nonsense",
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=windows-1251",
    "text/plain",
    "multipart/form-data; boundary=x",
    "application/xml",
    "",
]
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | PRINTABLE,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(PRINTABLE, children, max_size=4),
    max_leaves=20,
)
PATHS = st.one_of(
    st.sampled_from([f"/v1/callbacks/{p}" for p in PROVIDERS]),
    st.sampled_from(
        ["/healthz", "/readyz", "/metrics", "/openapi.json", "/", "/v1/callbacks", "/v1/callbacks/"]
    ),
    PRINTABLE.map(lambda text: "/v1/callbacks/" + quote(text, safe="")),
    PRINTABLE.map(lambda text: "/" + quote(text, safe="/")),
)


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["sample", "mutated", "json", "form", "bytes", "large", "empty"]))
    if kind in ("sample", "mutated"):
        body = draw(st.sampled_from(SAMPLES))[2]
        if kind == "mutated" and body:
            at = draw(st.integers(0, len(body) - 1))
            body = body[:at] + draw(st.binary(max_size=8)) + body[at + 1 :]
        return body
    if kind == "json":
        return json.dumps(draw(JSON_VALUES)).encode()
    if kind == "form":
        return urlencode(draw(st.dictionaries(PRINTABLE, PRINTABLE, max_size=6))).encode()
    if kind == "large":
        return b"[" + b" " * draw(st.integers(LIMIT - 10, LIMIT + 10)) + b"]"
    return b"" if kind == "empty" else draw(st.binary(max_size=2000))


CREDENTIALS = ["token", "query", "basic", "wrong basic", "bearer", "random", "none"]
OTHER_METHODS = ["GET", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


@st.composite
def raw_requests(draw: st.DrawFn) -> dict[str, Any]:
    """Half of them a provider's sample (maybe mutated) to its own URL; the rest anything."""
    if draw(st.booleans()):
        provider, content_type, body = draw(st.sampled_from(SAMPLES))
        path, method = f"/v1/callbacks/{provider}", "POST"
        credential = draw(
            st.sampled_from(["token", "query", "basic"] if provider == "revicom" else ["token", "query"])
        )
        if draw(st.integers(0, 3)) == 0:
            body = draw(bodies())
    else:
        content_type = draw(st.one_of(st.sampled_from(CONTENT_TYPES), HEADER_TEXT))
        path, method = draw(PATHS), draw(st.one_of(st.just("POST"), st.sampled_from(OTHER_METHODS)))
        credential, body = draw(st.sampled_from(CREDENTIALS)), draw(bodies())
    headers = {"Content-Type": content_type} if content_type else {}
    headers.update(credential_headers(draw, credential))
    if draw(st.booleans()):
        headers["X-Forwarded-For"] = draw(st.one_of(HEADER_TEXT, st.ip_addresses().map(str)))
    params = (
        {"token": TOKEN} if credential == "query" else draw(st.dictionaries(PRINTABLE, PRINTABLE, max_size=2))
    )
    auth = {"basic": BASIC, "wrong basic": ("fuzz", draw(HEADER_TEXT))}.get(credential)
    return {"method": method, "path": path, "params": params, "headers": headers, "auth": auth, "data": body}


def credential_headers(draw: st.DrawFn, credential: str) -> dict[str, str]:
    if credential == "token":
        return {"X-Callback-Token": TOKEN}
    if credential in ("bearer", "random"):
        return {"Authorization": ("Bearer " if credential == "bearer" else "") + draw(HEADER_TEXT)}
    return {}


def test_hypothesis_requests_never_get_a_5xx_but_503(gateway: Pipeline) -> None:
    session = requests.Session()

    @settings(max_examples=RAW_EXAMPLES, **FUZZ_SETTINGS)
    @given(request=raw_requests())
    def send(request: dict[str, Any]) -> None:
        path = request.pop("path")
        response = session.request(url=gateway.gateway_url + path, timeout=30, **request)
        assert_acceptable(response, request["method"])

    send()
    assert_still_up(gateway)


# -- schemathesis: cases from the served OpenAPI document ------------------------


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_schemathesis_cases_conform_to_the_served_document(gateway: Pipeline, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_url(f"{gateway.gateway_url}/openapi.json", timeout=10)
    session = requests.Session()
    checks = [
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
        response_headers_conformance,
    ]

    @settings(max_examples=SCHEMA_EXAMPLES, **FUZZ_SETTINGS)
    @given(case=schema.as_strategy(generation_mode=mode))
    def send(case: schemathesis.Case) -> None:
        headers = {"X-Callback-Token": TOKEN} if case.path.startswith("/v1/callbacks") else None
        response = case.call(base_url=gateway.gateway_url, session=session, headers=headers, timeout=30)
        assert_acceptable(response, case.method.upper())
        case.validate_response(response, checks=checks, headers=headers)

    send()
    for operation in schema.get_all_operations():  # methods the document does not list: 405 + Allow
        operation_ = operation.ok()
        case = operation_.Case(path_parameters={"provider": "revicom"} if "{" in operation_.path else None)
        response = case.call(base_url=gateway.gateway_url, session=session, timeout=30)
        case.validate_response(response, checks=[unsupported_method])
    assert_still_up(gateway)

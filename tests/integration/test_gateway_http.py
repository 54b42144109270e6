"""The gateway's HTTP contract against the real broker: every error code from a concrete
request with a JSON body naming the problem, accepted callbacks in their raw topic,
refused bodies in callbacks.rejected, metrics, the OpenAPI document, JSON logs.

One gateway (two worker processes, JSON logs, a 4 KiB body limit) on this module's
own topics; edna has no credentials configured here.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.integration.pipeline import ConsumedRecord, Pipeline

LIMIT = 4096
REVICOM_AUTH = ("revicom-test", "revicom-password")
TOKENS = {"recessmobile": "recessmobile-test-token", "fortytwo": "fortytwo-test-token"}
JSON_TYPE = "application/json"
FORM_TYPE = "application/x-www-form-urlencoded"


@pytest.fixture(scope="module")
def gateway(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    running = Pipeline(kafka_bootstrap, tmp_path_factory.mktemp("gateway-http"))
    try:
        running.create_topics()
        running.gateway_url = running.spawn_gateway(
            workers=2,
            CBSP_MAX_BODY_BYTES=str(LIMIT),
            CBSP_LOG_FORMAT="json",
            CBSP_EDNA_TOKEN="",
        )
        yield running
    finally:
        running.stop()


def url(gateway: Pipeline, path: str) -> str:
    return gateway.gateway_url + path


def revicom_status(message_uuid: str) -> dict[str, Any]:
    return {
        "message_uuid": message_uuid,
        "channel_type": "SMS",
        "callback_event": "delivered",
        "status": "delivered",
        "status_time": "2026-01-01T12:00:00Z",
    }


def by_request(
    gateway: Pipeline, topic: str, response: requests.Response, count: int
) -> list[ConsumedRecord]:
    request_id = response.headers["X-Request-Id"].encode()
    return gateway.consume([topic], match=lambda r: r.headers.get("request_id") == request_id, count=count)


def assert_error(
    response: requests.Response | http.client.HTTPResponse, status: int, code: str, says: str
) -> Any:
    body = response.json() if isinstance(response, requests.Response) else json.loads(response.read())
    assert (
        response.status if isinstance(response, http.client.HTTPResponse) else response.status_code
    ) == status
    assert response.headers["Content-Type"].startswith("application/json")
    assert body["error"] == code, body
    assert says in body["detail"], body
    return body


# -- accepted -----------------------------------------------------------------


def test_a_callback_answered_200_is_in_its_raw_topic(gateway: Pipeline) -> None:
    ids = [str(uuid.uuid4()), str(uuid.uuid4())]
    response = gateway.post("revicom", json.dumps([revicom_status(i) for i in ids]).encode(), JSON_TYPE)

    assert response.status_code == 200
    assert response.json() == {"accepted": 2}
    records = by_request(gateway, gateway.topics.raw("revicom"), response, count=2)
    assert sorted(r.key for r in records) == sorted(f"revicom:{i}".encode() for i in ids)
    for record in records:
        assert record.headers["provider"] == b"revicom"
        assert record.headers["kind"] == b"status"
        assert record.headers["source_ip"] == b"127.0.0.1"
        assert re.fullmatch(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record.headers["received_at"])
        assert json.loads(record.value or b"")["message_uuid"] == record.key.decode().split(":", 1)[1]


def test_recessmobile_form_in_its_charset_and_the_empty_reply_to_an_incoming_message(
    gateway: Pipeline,
) -> None:
    fields = {
        "type": "incoming_message",
        "api_key": "k",
        "phone_number": "79001234567",
        "sent_at": "1",
        "body": "Привет",
    }
    body = "&".join(f"{k}={v}" for k, v in fields.items()).encode("cp1251")
    response = gateway.post("recessmobile", body, f"{FORM_TYPE}; charset=windows-1251")

    assert response.status_code == 200
    assert response.content == b""  # no auto-reply to the texter
    (record,) = by_request(gateway, gateway.topics.raw("recessmobile"), response, count=1)
    assert json.loads(record.value or b"")["body"] == "Привет"
    assert record.headers["kind"] == b"inbound"


def test_recessmobile_json_delivery_report(gateway: Pipeline) -> None:
    report = {"type": "delivery_report", "message_id": str(uuid.uuid4()), "status": 1, "final": True}
    response = gateway.post("recessmobile", json.dumps(report).encode(), JSON_TYPE)

    assert response.status_code == 200
    assert response.json() == {"accepted": 1}


def test_a_chunked_body_within_the_limit_is_accepted(gateway: Pipeline) -> None:
    body = json.dumps([revicom_status(str(uuid.uuid4()))]).encode()
    response = requests.post(
        url(gateway, "/v1/callbacks/revicom"),
        data=iter([body[:10], body[10:]]),  # a generator body: requests sends it chunked
        headers={"Content-Type": JSON_TYPE},
        auth=REVICOM_AUTH,
        timeout=30,
    )
    assert response.request.headers["Transfer-Encoding"] == "chunked"
    assert response.status_code == 200, response.text


# -- errors -------------------------------------------------------------------


def test_unknown_provider_is_404(gateway: Pipeline) -> None:
    response = requests.post(url(gateway, "/v1/callbacks/nosuch"), data=b"{}", timeout=10)
    assert_error(response, 404, "unknown_provider", "'nosuch'")


def test_unknown_path_is_404(gateway: Pipeline) -> None:
    assert_error(requests.get(url(gateway, "/nothing/here"), timeout=10), 404, "not_found", "not found")


def test_get_on_a_callback_url_is_405(gateway: Pipeline) -> None:
    response = requests.get(url(gateway, "/v1/callbacks/revicom"), timeout=10)
    assert_error(response, 405, "method_not_allowed", "GET is not allowed")
    assert "POST" in response.headers["Allow"]


def test_a_content_type_the_provider_does_not_send_is_415_and_kept(gateway: Pipeline) -> None:
    response = gateway.post("revicom", b"hello", "text/plain")
    assert_error(response, 415, "unsupported_media_type", "'text/plain' is not accepted for revicom")
    (kept,) = by_request(gateway, gateway.topics.rejected, response, count=1)
    assert kept.value == b"hello"
    assert kept.headers["content_type"] == b"text/plain"


@pytest.mark.parametrize(
    ("provider", "body", "content_type", "code", "says"),
    [
        ("revicom", b"[{not json", JSON_TYPE, "unparseable_body", "not valid JSON"),
        (
            "revicom",
            b'[{"callback_event": "delivered"}]',
            JSON_TYPE,
            "invalid_callback",
            "[0].message_uuid: missing",
        ),
        ("fortytwo", b'{"data": [{"message_id": 7}]}', JSON_TYPE, "invalid_callback", "data[0].message_id"),
        (
            "recessmobile",
            b"type=delivery_report",
            f"{FORM_TYPE}; charset=klingon",
            "unparseable_body",
            "charset",
        ),
        ("recessmobile", b"\xff\xfe", FORM_TYPE, "unparseable_body", "not valid utf-8"),
    ],
)
def test_a_body_that_is_not_the_providers_is_400_and_kept_in_rejected(
    gateway: Pipeline, provider: str, body: bytes, content_type: str, code: str, says: str
) -> None:
    response = gateway.post(provider, body, content_type)

    assert_error(response, 400, code, says)
    (kept,) = by_request(gateway, gateway.topics.rejected, response, count=1)
    assert kept.value == body
    assert says in kept.headers["error"].decode()
    assert kept.headers["provider"] == provider.encode()


def test_no_credentials_is_401(gateway: Pipeline) -> None:
    response = gateway.post("revicom", b"[]", JSON_TYPE, auth=None)
    assert_error(response, 401, "missing_credentials", "no credentials")
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_wrong_credentials_are_401(gateway: Pipeline) -> None:
    response = gateway.post("fortytwo", b"{}", JSON_TYPE, headers={"X-Callback-Token": "guess"})
    assert_error(response, 401, "wrong_credentials", "not fortytwo's")


def test_a_provider_without_credentials_configured_is_403(gateway: Pipeline) -> None:
    response = gateway.post("edna", b"{}", JSON_TYPE, headers={"X-Callback-Token": "anything"})
    assert_error(response, 403, "provider_not_configured", "CBSP_EDNA_TOKEN")


def test_a_declared_body_over_the_limit_is_413(gateway: Pipeline) -> None:
    response = gateway.post("revicom", b"[" + b" " * LIMIT + b"]", JSON_TYPE)
    assert_error(response, 413, "body_too_large", f"limit of {LIMIT} bytes")


def test_a_chunked_body_over_the_limit_is_413_on_the_bytes_read(gateway: Pipeline) -> None:
    host, port = urlsplit(gateway.gateway_url).hostname, urlsplit(gateway.gateway_url).port
    connection = http.client.HTTPConnection(host or "", port, timeout=30)
    chunks = [b" " * 1000] * 8  # 8000 bytes, no Content-Length
    connection.request(
        "POST",
        "/v1/callbacks/revicom",
        body=iter(chunks),
        headers={"Content-Type": JSON_TYPE, "Authorization": basic_header()},
        encode_chunked=True,
    )
    response = connection.getresponse()
    assert_error(response, 413, "body_too_large", "the body is longer")
    connection.close()


def test_a_malformed_request_line_gets_gunicorns_answer_as_json(gateway: Pipeline) -> None:
    host, port = urlsplit(gateway.gateway_url).hostname, urlsplit(gateway.gateway_url).port
    with socket.create_connection((host or "", port or 0), timeout=10) as sock:
        sock.sendall(b"NOT A REQUEST /?token=s3cret HTTP/9\r\n\r\n")
        answer = b"".join(iter(lambda: sock.recv(4096), b""))  # gunicorn closes after its error
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    assert b"Content-Type: application/json" in head
    assert json.loads(body)["error"] == "malformed_request"
    assert b"s3cret" not in answer


def basic_header() -> str:
    return "Basic " + base64.b64encode(":".join(REVICOM_AUTH).encode()).decode()


# -- operations ---------------------------------------------------------------


def test_health_and_readiness(gateway: Pipeline) -> None:
    assert requests.get(url(gateway, "/healthz"), timeout=10).json() == {"status": "ok"}
    ready = requests.get(url(gateway, "/readyz"), timeout=10)
    assert ready.status_code == 200
    assert ready.json()["kafka"] == "reachable"


def test_openapi_document_is_served(gateway: Pipeline) -> None:
    spec = requests.get(url(gateway, "/openapi.json"), timeout=10).json()
    operation = spec["paths"]["/v1/callbacks/{provider}"]["post"]
    assert {"400", "401", "403", "404", "405", "413", "415", "503"} <= set(operation["responses"])


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the exposition text (0 when absent)."""
    for line in text.splitlines():
        sample, _, value = line.rpartition(" ")
        if sample.split("{")[0] == name and all(f'{k}="{v}"' in sample for k, v in labels.items()):
            return float(value)
    return 0.0


def scrape(gateway: Pipeline) -> str:
    response = requests.get(url(gateway, "/metrics"), timeout=10)  # a new connection: any worker
    assert response.headers["Content-Type"].startswith("text/plain")
    return response.text


def test_metrics_count_every_process_whichever_answers(gateway: Pipeline) -> None:
    before = scrape(gateway)
    for _ in range(6):
        body = json.dumps([revicom_status(str(uuid.uuid4()))]).encode()
        assert gateway.post("revicom", body, JSON_TYPE).status_code == 200
    assert gateway.post("revicom", b"[]", JSON_TYPE, auth=("revicom-test", "nope")).status_code == 401
    assert gateway.post("revicom", b"[1]", JSON_TYPE).status_code == 400

    expected = {
        ("cbsp_gateway_http_requests_total", (("provider", "revicom"), ("code", "200"))): 6,
        ("cbsp_gateway_callbacks_accepted_total", (("provider", "revicom"), ("kind", "status"))): 6,
        ("cbsp_gateway_auth_failures_total", (("provider", "revicom"), ("reason", "wrong_credentials"))): 1,
        ("cbsp_gateway_requests_rejected_total", (("provider", "revicom"), ("error", "invalid_callback"))): 1,
        ("cbsp_gateway_produce_duration_seconds_count", (("outcome", "acknowledged"),)): 7,
    }
    for _ in range(6):  # several scrapes, new connections: both processes answer some
        after = scrape(gateway)
        for (name, labels), increase in expected.items():
            assert metric(after, name, **dict(labels)) - metric(before, name, **dict(labels)) == increase, (
                name
            )
    assert "cbsp_gateway_produce_duration_seconds_bucket" in after


def test_logs_are_json_lines_with_request_ids_and_no_secret(gateway: Pipeline) -> None:
    token = TOKENS["fortytwo"]
    refused = gateway.post("fortytwo", b"{}", JSON_TYPE, headers={"X-Callback-Token": "wrong-secret-value"})
    accepted = requests.post(
        url(gateway, f"/v1/callbacks/fortytwo?token={token}"),
        data=json.dumps({"data": [{"message_id": str(uuid.uuid4()), "status": "DELIVERED"}]}).encode(),
        headers={"Content-Type": JSON_TYPE},
        timeout=30,
    )
    assert (refused.status_code, accepted.status_code) == (401, 200)
    time.sleep(0.5)  # the access log line is written after the response

    text = (gateway.workdir / "gateway.log").read_text()
    entries = [json.loads(line) for line in text.splitlines() if line.strip()]  # every line is JSON
    assert len(entries) > 10
    by_id = {e.get("request_id") for e in entries}
    assert refused.headers["X-Request-Id"] in by_id
    (auth_line,) = [
        e
        for e in entries
        if e["message"].startswith("auth failed") and e.get("request_id") == refused.headers["X-Request-Id"]
    ]
    assert "provider=fortytwo reason=wrong_credentials peer=127.0.0.1" in auth_line["message"]
    for secret in (token, "wrong-secret-value", "revicom-password", "s3cret"):
        assert secret not in text

"""Serving: the gateway speaks TLS itself when given a certificate, and SIGTERM lets a request
that is in flight finish (its callback acknowledged by Kafka) before the process exits."""

from __future__ import annotations

import datetime as dt
import http.client
import ipaddress
import json
import signal
import socket
import time
import uuid
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.integration.pipeline import Pipeline


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


def revicom_body() -> bytes:
    item = {"message_uuid": str(uuid.uuid4()), "callback_event": "delivered", "status": "delivered"}
    return json.dumps([item]).encode()


@pytest.fixture
def pipeline(kafka_bootstrap: str, tmp_path: Path) -> Pipeline:
    running = Pipeline(kafka_bootstrap, tmp_path)
    running.create_topics()
    return running


def test_the_gateway_serves_tls_with_the_configured_certificate(pipeline: Pipeline, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    try:
        url = pipeline.spawn_gateway(
            scheme="https", verify=str(cert), CBSP_GATEWAY_CERTFILE=str(cert), CBSP_GATEWAY_KEYFILE=str(key)
        )
        response = requests.post(
            f"{url}/v1/callbacks/revicom",
            data=revicom_body(),
            headers={"Content-Type": "application/json"},
            auth=("revicom-test", "revicom-password"),
            verify=str(cert),
            timeout=30,
        )
        assert response.status_code == 200, response.text
        assert response.json() == {"accepted": 1}
        with pytest.raises(requests.ConnectionError):  # no plain HTTP on the TLS port
            requests.get(url.replace("https://", "http://") + "/healthz", timeout=5)
    finally:
        pipeline.stop()


def test_sigterm_lets_the_request_in_flight_finish(pipeline: Pipeline) -> None:
    try:
        url = pipeline.spawn_gateway()
        body = revicom_body()
        head = (
            f"POST /v1/callbacks/revicom HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
            f"X-Callback-Token: revicom-test-token\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=30) as sock:
            sock.sendall(head + body[:10])
            time.sleep(0.5)  # the request is being read by a worker thread
            pipeline.process("gateway").send_signal(signal.SIGTERM)
            time.sleep(1.0)
            sock.sendall(body[10:])
            response = http.client.HTTPResponse(sock)
            response.begin()
            answer = response.read()
        assert response.status == 200, answer
        assert json.loads(answer) == {"accepted": 1}
        assert pipeline.process("gateway").wait(timeout=30) == 0
        request_id = response.headers["X-Request-Id"].encode()
        stored = pipeline.consume(
            [pipeline.topics.raw("revicom")],
            match=lambda r: r.headers.get("request_id") == request_id,
            count=1,
        )
        assert len(stored) == 1
        assert "producer closed" in pipeline.log_tail("gateway")
    finally:
        pipeline.stop()

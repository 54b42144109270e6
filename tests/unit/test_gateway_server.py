"""Server settings: TLS, workers, log format, proxies, from the environment into gunicorn's options."""

from __future__ import annotations

import pytest

from gateway.server import ServerSettings, main


def test_defaults_serve_plain_http_with_gthread_workers() -> None:
    options = ServerSettings.from_env({}).gunicorn_options()
    assert options["worker_class"] == "gateway.serverworker.AdmissionWorker"
    assert (options["workers"], options["threads"], options["bind"]) == (2, 8, "127.0.0.1:8080")
    assert "certfile" not in options
    assert options["forwarded_allow_ips"] == ""  # no proxy is trusted unless configured
    assert options["preload_app"] is False  # the app (and its producer) is created after the fork
    # gunicorn's access log is off: the app writes the access lines, the path without the query
    # string (tokens): tests/unit/test_gateway_logs.py
    assert options["accesslog"] is None


def test_tls_and_the_rest_come_from_the_environment() -> None:
    settings = ServerSettings.from_env(
        {
            "CBSP_GATEWAY_CERTFILE": "/c.pem",
            "CBSP_GATEWAY_KEYFILE": "/k.pem",
            "CBSP_GATEWAY_WORKERS": "4",
            "CBSP_GATEWAY_GRACEFUL_TIMEOUT_S": "5",
            "CBSP_LOG_FORMAT": "json",
            "CBSP_TRUSTED_PROXIES": "10.0.0.0/8",
        }
    )
    options = settings.gunicorn_options()
    assert (options["certfile"], options["keyfile"]) == ("/c.pem", "/k.pem")
    assert options["workers"] == 4
    assert options["graceful_timeout"] == 5
    assert options["forwarded_allow_ips"] == "10.0.0.0/8"
    assert options["logconfig_dict"]["formatters"]["main"]["()"].__name__ == "JsonFormatter"


def test_a_certificate_without_a_key_is_refused() -> None:
    with pytest.raises(ValueError, match="CBSP_GATEWAY_CERTFILE and CBSP_GATEWAY_KEYFILE"):
        ServerSettings.from_env({"CBSP_GATEWAY_CERTFILE": "/c.pem"})


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("CBSP_TRUSTED_PROXIES", "10.0.0.1/8", "CBSP_TRUSTED_PROXIES: '10.0.0.1/8' is not"),
        ("CBSP_FORTYTWO_ALLOWED_IPS", "nowhere", "CBSP_FORTYTWO_ALLOWED_IPS: 'nowhere'"),
        ("CBSP_LOG_FORMAT", "xml", "log format must be one of text, json"),
        ("CBSP_REVICOM_BASIC_AUTH", "no-colon", "CBSP_REVICOM_BASIC_AUTH must be 'login:password'"),
    ],
)
def test_a_bad_configuration_stops_the_server_before_it_starts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str, value: str, says: str
) -> None:
    monkeypatch.setenv(name, value)
    assert main([]) == 2
    assert says in capsys.readouterr().err

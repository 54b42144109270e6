"""Configuration: environment names the deployment files use are the ones the code reads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cbsp import localkafka
from cbsp.topicnames import PROVIDERS
from gateway import server
from gateway import settings as gateway_settings
from gateway.settings import Settings
from streams import settings as worker_settings

ROOT = Path(__file__).resolve().parents[2]


def names_read_by_code() -> set[str]:
    names: set[str] = set()
    for module in (gateway_settings, worker_settings, server, localkafka):
        names |= {v for k, v in vars(module).items() if k.startswith("ENV_") and isinstance(v, str)}
    templated = {n for n in names if "{provider}" in n}
    return (names - templated) | {t.format(provider=p.upper()) for t in templated for p in PROVIDERS}


def test_docker_compose_sets_only_variables_the_code_reads() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    used = set(re.findall(r"^\s+((?:KAFKA_BOOTSTRAP_SERVERS|CBSP_[A-Z0-9_]+)):", text, re.MULTILINE))
    assert used, "docker-compose.yml sets no CBSP_ variable"
    assert used <= names_read_by_code()


def test_basic_auth_must_be_login_colon_password() -> None:
    with pytest.raises(ValueError, match="CBSP_REVICOM_BASIC_AUTH must be 'login:password'"):
        Settings.from_env({"CBSP_REVICOM_BASIC_AUTH": "no-colon"})


def test_empty_credentials_mean_not_configured() -> None:
    settings = Settings.from_env({"CBSP_REVICOM_BASIC_AUTH": "", "CBSP_EDNA_TOKEN": ""})
    assert not settings.auth["revicom"].configured
    assert not settings.auth["edna"].configured


def test_secrets_stay_out_of_the_settings_repr() -> None:
    settings = Settings.from_env({"CBSP_REVICOM_BASIC_AUTH": "login:hunter2", "CBSP_EDNA_TOKEN": "tok-9"})
    assert "hunter2" not in repr(settings)
    assert "tok-9" not in repr(settings)

"""Configuration: the variables the code reads, docs/configuration.md and the deployment files agree."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.settings import Settings
from schemas.topicnames import PROVIDERS

ROOT = Path(__file__).resolve().parents[2]
SOURCE_DIRS = ("cbsp", "gateway", "streams", "bench")
DOC = ROOT / "docs" / "configuration.md"
PER_PROVIDER = "<PROVIDER>"
VARIABLE = re.compile(r"(?:CBSP|KAFKA|PROMETHEUS)_[A-Z0-9_<>]+")
# strings that look like variable names and are not read from the environment
NOT_ENVIRONMENT = {"CBSP_SETTINGS"}  # the gateway's key in Flask's app.config
PENDING = "<!-- pending:"


def _strings(tree: ast.AST) -> Iterator[str]:
    """Every string literal; a placeholder of an f-string or a ``{provider}`` template is <PROVIDER>."""
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            yield "".join(v.value if isinstance(v, ast.Constant) else PER_PROVIDER for v in node.values)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.value.replace("{provider}", PER_PROVIDER)


def names_read_by_code() -> set[str]:
    """Variable names in the source, a provider's own (CBSP_REVICOM_TOKEN) as its template."""
    names = {
        text
        for path in sorted(p for d in SOURCE_DIRS for p in (ROOT / d).rglob("*.py"))
        for text in _strings(ast.parse(path.read_text()))
        if VARIABLE.fullmatch(text)
    } - NOT_ENVIRONMENT
    return {as_template(name, names) for name in names}


def as_template(name: str, names: set[str]) -> str:
    templates = {n for n in names if PER_PROVIDER in n}
    for template in templates:
        if name in {template.replace(PER_PROVIDER, p.upper()) for p in PROVIDERS}:
            return template
    return name


def documented() -> dict[str, bool]:
    """The first column of every table row of docs/configuration.md -> whether it is marked pending."""
    rows = re.findall(r"^\| `([A-Z0-9_<>]+)` \|(.*)$", DOC.read_text(), re.MULTILINE)
    return {name: PENDING in rest for name, rest in rows}


def test_every_variable_the_code_reads_is_documented() -> None:
    read = names_read_by_code()
    assert {"KAFKA_BOOTSTRAP_SERVERS", "CBSP_<PROVIDER>_TOKEN", "CBSP_WORKER_WEB_PORT"} <= read
    assert read - set(documented()) == set(), "document these in docs/configuration.md"


def test_every_documented_variable_is_read_or_marked_pending() -> None:
    unread = set(documented()) - names_read_by_code()
    assert {name for name in unread if not documented()[name]} == set(), "read nowhere: remove them"


def test_no_variable_is_marked_pending_once_the_code_reads_it() -> None:
    pending = {name for name, is_pending in documented().items() if is_pending}
    assert pending & names_read_by_code() == set(), "the code reads these now: drop their pending marker"


def test_docker_compose_sets_only_variables_the_code_reads() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    used = set(re.findall(r"^\s+((?:KAFKA_BOOTSTRAP_SERVERS|CBSP_[A-Z0-9_]+)):", text, re.MULTILINE))
    assert used, "docker-compose.yml sets no CBSP_ variable"
    read = names_read_by_code()
    assert {as_template(name, read) for name in used} <= read


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

"""The local schema registry without running it: settings, the build files and commands (a stand-in
``mvn`` records them), and the errors a user meets, each saying what to do."""

from __future__ import annotations

import os
import re
import socket
import stat
import tomllib
from pathlib import Path

import pytest

from cbsp import localregistry
from cbsp.localregistry import (
    APICURIO_VERSION,
    BUILD_SOURCES,
    CONFIG_INDEX_VERSION,
    QUARKUS_VERSION,
    RUNNER_JAR,
    LocalRegistry,
    LocalRegistryError,
)

ROOT = Path(__file__).resolve().parents[2]


def test_from_env_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Path, "home", lambda: Path("/home/dev"))

    registry = LocalRegistry.from_env({})

    assert registry.home == Path(".registry").resolve()
    assert registry.cache == Path("/home/dev/.cache/cbsp/apicurio-registry-2.4.2.Final")
    assert registry.port == 38081
    assert registry.url == "http://127.0.0.1:38081/apis/ccompat/v7"


def test_from_env_reads_the_variables(tmp_path: Path) -> None:
    env = {
        "CBSP_REGISTRY_HOME": str(tmp_path / "reg"),
        "CBSP_REGISTRY_PORT": "48081",
        "CBSP_CACHE_DIR": str(tmp_path / "cache"),
    }

    registry = LocalRegistry.from_env(env)

    assert registry == LocalRegistry(
        home=tmp_path / "reg", cache=tmp_path / "cache" / f"apicurio-registry-{APICURIO_VERSION}", port=48081
    )
    assert registry.url == "http://127.0.0.1:48081/apis/ccompat/v7"


@pytest.mark.parametrize("port", ["http://x", "0", "70000", "-1"])
def test_from_env_refuses_a_port_that_is_not_one(port: str) -> None:
    with pytest.raises(LocalRegistryError, match="CBSP_REGISTRY_PORT must be a TCP port number"):
        LocalRegistry.from_env({"CBSP_REGISTRY_PORT": port})


def test_the_java_command_binds_loopback_and_enforces_backward_compatibility(tmp_path: Path) -> None:
    registry = LocalRegistry(home=tmp_path, cache=tmp_path / "cache", port=48081)

    command = registry.java_command()

    assert command[1] == "-Xmx256m"
    assert "-Dquarkus.http.host=127.0.0.1" in command and "-Dquarkus.http.port=48081" in command
    assert "-Dregistry.rules.global.compatibility=BACKWARD" in command
    assert command[-2:] == ["-jar", str(tmp_path / "cache" / "app" / "target" / RUNNER_JAR)]


def test_the_build_files_name_the_versions_the_module_builds() -> None:
    app = (BUILD_SOURCES / "app" / "pom.xml").read_text()
    deployment = (BUILD_SOURCES / "deployment" / "pom.xml").read_text()

    assert f"<apicurio.version>{APICURIO_VERSION}</apicurio.version>" in app
    assert f"<quarkus.version>{QUARKUS_VERSION}</quarkus.version>" in app + deployment
    assert "<artifactId>apicurio-common-app-components-config-index-deployment</artifactId>" in deployment
    assert f"<version>{CONFIG_INDEX_VERSION}</version>" in deployment
    assert RUNNER_JAR == "{}-{}-runner.jar".format(*re.findall(r"<(?:artifactId|version)>([^<$]+)<", app)[:2])
    for needed in ("quarkus.index-dependency.registry.artifact-id", "org.everit.json.schema", "legacy-jar"):
        assert needed in app


def test_the_build_step_list_names_the_build_step_class() -> None:
    deployment = BUILD_SOURCES / "deployment" / "src" / "main"
    listed = (deployment / "resources" / "META-INF" / "quarkus-build-steps.list").read_text().split()

    assert listed, "no build step listed"
    for name in listed:
        source = deployment / "java" / (name.replace(".", "/") + ".java")
        assert "@BuildStep" in source.read_text(), source


def test_the_build_files_ship_with_the_package() -> None:
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]

    assert "registrybuild/**/*" in package_data["cbsp"]


def fake_tool(bin_dir: Path, name: str, script: str) -> None:
    bin_dir.mkdir(exist_ok=True)
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def with_path(monkeypatch: pytest.MonkeyPatch, *dirs: Path) -> None:
    monkeypatch.setenv("PATH", os.pathsep.join(str(d) for d in dirs))


def test_build_installs_the_deployment_module_then_packages_the_app_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = tmp_path / "calls"
    fake_tool(
        tmp_path / "bin",
        "mvn",
        f'echo "$@" >> {calls}\n'
        'case "$*" in *package*) mkdir -p app/target && touch app/target/' + RUNNER_JAR + " ;; esac\n",
    )
    fake_tool(tmp_path / "bin", "java", "exit 0\n")
    with_path(monkeypatch, tmp_path / "bin", Path("/usr/bin"), Path("/bin"))  # the stand-ins first
    registry = LocalRegistry(home=tmp_path / "home", cache=tmp_path / "cache")

    runner = registry.build()
    registry.build()  # built already: no Maven

    cache = tmp_path / "cache"
    assert runner == cache / "app" / "target" / RUNNER_JAR
    assert calls.read_text().splitlines() == [
        f"--batch-mode --no-transfer-progress -f {cache}/deployment/pom.xml install",
        f"--batch-mode --no-transfer-progress -f {cache}/app/pom.xml package",
    ]
    assert (cache / "deployment" / "pom.xml").read_text() == (
        BUILD_SOURCES / "deployment" / "pom.xml"
    ).read_text()
    assert (cache / ".complete").read_text() == APICURIO_VERSION


def test_a_failed_build_shows_mavens_errors_and_where_the_whole_log_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_tool(
        tmp_path / "bin",
        "mvn",
        'echo "[INFO] Scanning for projects..."\n'
        'echo "[ERROR] Failed to execute goal on project cbsp-registry: Could not resolve dependencies"\n'
        "exit 1\n",
    )
    fake_tool(tmp_path / "bin", "java", "exit 0\n")
    with_path(monkeypatch, tmp_path / "bin")
    registry = LocalRegistry(home=tmp_path / "home", cache=tmp_path / "cache")

    with pytest.raises(LocalRegistryError) as failed:
        registry.build()

    message = str(failed.value)
    assert "installing the config-index deployment module" in message and "exit code 1" in message
    assert "[ERROR] Failed to execute goal on project cbsp-registry" in message
    assert "[INFO]" not in message
    assert f"the whole output is in {tmp_path / 'cache' / 'build.log'}" in message
    assert not (tmp_path / "cache" / ".complete").exists()


@pytest.mark.parametrize("missing", ["mvn", "java"])
def test_build_without_maven_or_java_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    present = "java" if missing == "mvn" else "mvn"
    fake_tool(tmp_path / "bin", present, "exit 0\n")
    with_path(monkeypatch, tmp_path / "bin")
    registry = LocalRegistry(home=tmp_path / "home", cache=tmp_path / "cache")

    with pytest.raises(LocalRegistryError, match=rf"\({missing}\) is not on PATH: .* install both"):
        registry.build()


def test_start_on_a_port_in_use_says_which_and_what_to_set(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        registry = LocalRegistry(
            home=tmp_path / "home", cache=tmp_path / "cache", port=taken.getsockname()[1]
        )

        with pytest.raises(LocalRegistryError, match=f"port {registry.port} is in use .* CBSP_REGISTRY_PORT"):
            registry.start()

    assert not (tmp_path / "cache").exists(), "nothing built for a registry that cannot start"


def test_a_registry_that_dies_while_starting_fails_at_once_with_its_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_tool(tmp_path / "bin", "java", 'echo "Error: Unable to access jarfile $7"\nexit 1\n')
    with_path(monkeypatch, tmp_path / "bin")
    registry = LocalRegistry(home=tmp_path / "home", cache=tmp_path / "cache", port=free_port())
    monkeypatch.setattr(registry.__class__, "build", lambda self: self.runner)

    with pytest.raises(LocalRegistryError) as failed:
        registry.start(timeout_s=30)

    assert "exited with code 1 while starting" in str(failed.value)
    assert f"Error: Unable to access jarfile {registry.runner}" in str(failed.value)
    assert registry.running_pid() is None and not registry.pid_file.exists()


def test_status_and_stop_of_a_registry_that_never_ran(tmp_path: Path) -> None:
    registry = LocalRegistry(home=tmp_path / "home", cache=tmp_path / "cache")
    registry.home.mkdir()
    registry.pid_file.write_text(str(os.getpid()))  # a live pid that is not a registry

    assert registry.running_pid() is None
    assert registry.stop() is False
    assert not registry.pid_file.exists()


def test_the_command_line_reports_errors_without_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cbsp.cli import main

    with_path(monkeypatch, tmp_path)  # neither mvn nor java
    monkeypatch.setenv("CBSP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("CBSP_REGISTRY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CBSP_REGISTRY_PORT", str(free_port()))

    assert main(["registry", "up"]) == 1
    assert "cbsp registry up: Maven (mvn) is not on PATH" in capsys.readouterr().err
    assert main(["registry", "status"]) == 1
    assert "schema registry not running" in capsys.readouterr().out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_module_constants_are_the_documented_ones() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text()

    assert localregistry.ENV_HOME in doc and localregistry.ENV_PORT in doc
    assert "registry.rules.global.compatibility" in doc

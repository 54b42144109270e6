"""A real Confluent-compatible schema registry on loopback: Apicurio Registry, built from Maven Central.

For machines without Docker. Apicurio Registry 2.4.2.Final (Apache-2.0, a Quarkus app) serves the
Confluent Schema Registry API at ``/apis/ccompat/v7``. Maven Central has its app jar but no runnable
build, so the first start builds one with Maven into a cache folder, from the build files in
``cbsp/registrybuild/`` (their pom files say why each piece is there):

- ``deployment/``: the build-time half of Apicurio's ``config-index`` Quarkus extension, which
  Maven Central does not serve; installed into the local Maven repository first;
- ``app/``: an empty project depending on ``apicurio-registry-app``, packaged by Quarkus' own build.

The registry enforces BACKWARD compatibility on every subject, as Confluent's registry does by
default (:data:`COMPATIBILITY`). Its storage is in memory: a restart starts empty and schema ids
may change. Everything here is idempotent: the build runs once, a registry that runs is left running.
"""

from __future__ import annotations

import http.client
import logging
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cbsp.javaservice import PidFile, log_tail

logger = logging.getLogger(__name__)

APICURIO_VERSION = "2.4.2.Final"
QUARKUS_VERSION = "2.16.4.Final"  # the Quarkus Apicurio 2.4.2 was built with
CONFIG_INDEX_VERSION = "0.1.18.Final"  # the config-index extension Apicurio 2.4.2 uses

ENV_HOME = "CBSP_REGISTRY_HOME"
ENV_PORT = "CBSP_REGISTRY_PORT"
ENV_CACHE = "CBSP_CACHE_DIR"
DEFAULT_PORT = 38081

# Apicurio's default global rule (RulesConfiguration, prefix registry.rules.global): applies to
# every subject without a rule of its own. Confluent's registry defaults to BACKWARD too.
COMPATIBILITY = "BACKWARD"
COMPATIBILITY_PROPERTY = "registry.rules.global.compatibility"

BUILD_SOURCES = Path(__file__).with_name("registrybuild")
RUNNER_JAR = "cbsp-registry-1-runner.jar"  # <artifactId>-<version>-runner.jar of app/pom.xml
CONFLUENT_API = "/apis/ccompat/v7"


class LocalRegistryError(RuntimeError):
    """The local schema registry could not be built, started or stopped."""


@dataclass(frozen=True)
class LocalRegistry:
    """Apicurio Registry: its build in ``cache``; its log and pid file in ``home``."""

    home: Path
    cache: Path
    port: int = DEFAULT_PORT
    heap: str = "256m"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LocalRegistry:
        env = os.environ if env is None else env
        cache_root = env.get(ENV_CACHE) or str(Path.home() / ".cache" / "cbsp")
        port = env.get(ENV_PORT) or str(DEFAULT_PORT)
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise LocalRegistryError(f"{ENV_PORT} must be a TCP port number, not {port!r}")
        return cls(
            home=Path(env.get(ENV_HOME) or ".registry").resolve(),
            cache=Path(cache_root) / f"apicurio-registry-{APICURIO_VERSION}",
            port=int(port),
        )

    @property
    def url(self) -> str:
        """The Confluent API's base URL, the one clients take (``CBSP_SCHEMA_REGISTRY_URL``)."""
        return f"http://127.0.0.1:{self.port}{CONFLUENT_API}"

    @property
    def runner(self) -> Path:
        return self.cache / "app" / "target" / RUNNER_JAR

    @property
    def pid_file(self) -> Path:
        return self.home / "registry.pid"

    @property
    def log_file(self) -> Path:
        return self.home / "registry.log"

    @property
    def service(self) -> PidFile:
        return PidFile(self.pid_file, RUNNER_JAR.encode(), "schema registry")

    @property
    def build_log(self) -> Path:
        return self.cache / "build.log"

    # -- build --------------------------------------------------------------

    def build_commands(self) -> list[tuple[str, list[str]]]:
        """The Maven runs of a build, in order, each with what it does."""
        maven = ["mvn", "--batch-mode", "--no-transfer-progress", "-f"]
        return [
            (
                "installing the config-index deployment module into the local Maven repository",
                [*maven, str(self.cache / "deployment" / "pom.xml"), "install"],
            ),
            (
                f"building Apicurio Registry {APICURIO_VERSION} with Quarkus {QUARKUS_VERSION}",
                [*maven, str(self.cache / "app" / "pom.xml"), "package"],
            ),
        ]

    def build(self) -> Path:
        """Build the registry's runnable jar with Maven, once; returns the jar."""
        marker = self.cache / ".complete"
        if marker.exists() and self.runner.exists():
            return self.runner
        for tool, what in (("mvn", "Maven (mvn)"), ("java", "Java (java)")):
            if shutil.which(tool) is None:
                raise LocalRegistryError(
                    f"{what} is not on PATH: the local schema registry is built with Maven and runs "
                    "on Java 17+; install both (Debian: apt-get install maven openjdk-17-jdk-headless), "
                    "or use a Confluent-compatible registry you run yourself (docker compose's "
                    "`registry` service) and give its URL instead"
                )
        self.cache.mkdir(parents=True, exist_ok=True)
        for part in ("deployment", "app"):
            shutil.copytree(
                BUILD_SOURCES / part,
                self.cache / part,
                dirs_exist_ok=True,
                ignore=shutil.ignore_patterns("target"),
            )
        logger.info(
            "building Apicurio Registry %s with Maven into %s (the first time downloads about "
            "240 MB into the Maven repository and takes one to a few minutes); log: %s",
            APICURIO_VERSION,
            self.cache,
            self.build_log,
        )
        self.build_log.write_text("")
        for what, command in self.build_commands():
            self._run_maven(what, command)
        if not self.runner.exists():
            raise LocalRegistryError(f"Maven succeeded but made no {self.runner}; see {self.build_log}")
        marker.write_text(APICURIO_VERSION)
        return self.runner

    def _run_maven(self, what: str, command: list[str]) -> None:
        started = time.monotonic()
        result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=self.cache)
        with self.build_log.open("a") as log:
            log.write(f"$ {' '.join(command)}\n{result.stdout}{result.stderr}\n")
        if result.returncode != 0:
            raise LocalRegistryError(
                f"{what} failed (mvn exit code {result.returncode}); the end of Maven's output:\n"
                f"{maven_tail(result.stdout + result.stderr)}\n"
                "Check that Maven Central (https://repo.maven.apache.org) is reachable and run "
                f"`cbsp registry up` again; the whole output is in {self.build_log}"
            )
        logger.info("%s: done in %.0fs", what, time.monotonic() - started)

    # -- process ------------------------------------------------------------

    def java_command(self) -> list[str]:
        java = shutil.which("java")
        if java is None:
            raise LocalRegistryError("Java (java) is not on PATH: install OpenJDK 17 or newer")
        return [
            java,
            f"-Xmx{self.heap}",
            "-Djava.awt.headless=true",
            "-Dquarkus.http.host=127.0.0.1",
            f"-Dquarkus.http.port={self.port}",
            f"-D{COMPATIBILITY_PROPERTY}={COMPATIBILITY}",
            "-jar",
            str(self.runner),
        ]

    def running_pid(self) -> int | None:
        """The pid of this registry if it runs, else None."""
        return self.service.running_pid()

    def start(self, timeout_s: float = 120.0) -> bool:
        """Build if needed, start unless it runs, wait until it answers. True if this call started it."""
        if self.running_pid() is not None:
            self.wait_ready(None, timeout_s)
            return False
        if not port_is_free(self.port):
            raise LocalRegistryError(
                f"port {self.port} is in use by another program: stop it, or set {ENV_PORT} "
                "to a free port for the local schema registry"
            )
        self.build()
        process = self.launch()
        try:
            self.wait_ready(process, timeout_s)
        except BaseException:
            self.stop()
            raise
        return True

    def launch(self) -> subprocess.Popen[bytes]:
        """Start the registry process without waiting for it."""
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "wb") as out:
            process = subprocess.Popen(
                self.java_command(),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.home,
                start_new_session=True,
            )
        self.service.record(process)
        logger.info("starting Apicurio Registry %s pid=%d url=%s", APICURIO_VERSION, process.pid, self.url)
        return process

    def wait_ready(self, process: subprocess.Popen[bytes] | None, timeout_s: float) -> None:
        """Wait until ``GET <url>/subjects`` answers 200; fail at once if the process dies."""
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            if process is not None and process.poll() is not None:
                raise LocalRegistryError(
                    f"the schema registry exited with code {process.returncode} while starting; "
                    f"last lines of {self.log_file}:\n{self.log_tail()}"
                )
            if process is None and self.running_pid() is None:
                raise LocalRegistryError(
                    f"the schema registry stopped while starting; last lines of {self.log_file}:\n"
                    f"{self.log_tail()}"
                )
            if self.answers():
                logger.info("schema registry ready in %.1fs at %s", time.monotonic() - started, self.url)
                return
            time.sleep(0.25)
        raise LocalRegistryError(
            f"the schema registry did not answer GET {self.url}/subjects within {timeout_s:.0f}s; "
            f"last lines of {self.log_file}:\n{self.log_tail()}"
        )

    def answers(self) -> bool:
        """Whether ``GET <url>/subjects`` answers 200 now."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
        try:
            connection.request("GET", f"{CONFLUENT_API}/subjects")
            return connection.getresponse().status == 200
        except OSError:
            return False
        finally:
            connection.close()

    def stop(self, timeout_s: float = 30.0) -> bool:
        """Stop the registry with SIGTERM (SIGKILL after the timeout). True if one was running."""
        return self.service.stop(timeout_s)

    def log_tail(self, lines: int = 20) -> str:
        """The first errors of the log (the cause, e.g. a port in use), then its last lines."""
        return log_tail([self.log_file], lines)


def maven_tail(output: str, lines: int = 40) -> str:
    """Maven's ``[ERROR]`` lines (the cause), else the last lines of its output."""
    text = output.splitlines()
    errors = [line for line in text if line.startswith("[ERROR]")]
    return "\n".join((errors or text)[-lines:])


def port_is_free(port: int) -> bool:
    """Whether nothing listens on, or holds, ``127.0.0.1:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True

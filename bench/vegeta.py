"""vegeta, the open-loop HTTP load generator of the overload stage: installed once, run, read.

A load generator for overload has to keep sending at its rate whatever the server does, with
little CPU of its own (it shares the machine's two cores with the gateway and the broker): the
Python one (bench/loadgen.py) cannot send twice the gateway's capacity. vegeta (Go) can, and it
is what providers' load tests use. It is built from the Go module proxy with the machine's Go
toolchain the first time (about a minute), into the cache the local Kafka's jars use
(``CBSP_CACHE_DIR``, default ``~/.cache/cbsp``); ``VEGETA=/path/to/vegeta`` uses another binary.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

VERSION = "12.13.0"
MODULE = f"github.com/tsenart/vegeta/v12@v{VERSION}"
ENV_BINARY = "VEGETA"


class VegetaError(RuntimeError):
    pass


def binary() -> Path:
    """The vegeta binary: ``$VEGETA``, or the cached build (built now if there is none)."""
    configured = os.environ.get(ENV_BINARY)
    if configured:
        return Path(configured)
    cache = Path(os.environ.get("CBSP_CACHE_DIR") or Path.home() / ".cache" / "cbsp") / "bin"
    path = cache / f"vegeta-{VERSION}"
    if path.exists():
        return path
    go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None)
    if go is None:
        raise VegetaError(
            f"the overload stage needs vegeta {VERSION}: install Go (https://go.dev/dl/) so that it can "
            f"be built ({MODULE}), or set {ENV_BINARY} to a vegeta binary"
        )
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as build:
        env = {**os.environ, "GOBIN": build, "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod"}
        result = subprocess.run([go, "install", MODULE], env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise VegetaError(f"building vegeta failed ({go} install {MODULE}):\n{result.stderr[-2000:]}")
        os.replace(Path(build) / "vegeta", path)
    return path


@dataclass(frozen=True)
class Target:
    url: str
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Hit:
    """One request's result: when it was sent (seconds from the attack's first request), its
    latency until the answer, its status (0: no answer: a timeout or a connection error, ``error``
    says which). Open loop, vegeta sends on its schedule whatever the server does (a new
    connection when all are busy), so a slow server cannot hold the load back."""

    at_s: float
    latency_s: float
    code: int
    error: str


def write_targets(path: Path, targets: Iterable[Target]) -> int:
    """vegeta's JSON targets format, one per line; returns how many."""
    count = 0
    with path.open("w") as out:
        for target in targets:
            line = {
                "method": "POST",
                "url": target.url,
                "body": base64.b64encode(target.body).decode(),
                "header": {name: [value] for name, value in target.headers.items()},
            }
            out.write(json.dumps(line) + "\n")
            count += 1
    return count


def attack(
    targets: Path,
    results: Path,
    duration_s: float,
    rate: float | None,
    workers: int | None = None,
    timeout_s: float = 10.0,
) -> list[Hit]:
    """``rate`` requests/s, open loop (as many connections as it takes), for ``duration_s``; or, with
    ``rate=None``, as fast as ``workers`` connections go (closed loop). The targets are taken in order."""
    command = [
        str(binary()),
        "attack",
        f"-targets={targets}",
        "-format=json",
        "-lazy",
        f"-duration={duration_s}s",
        f"-timeout={timeout_s}s",
        f"-output={results}",
        "-max-body=0",  # the bodies are not needed, only the status
    ]
    if rate is None:
        command += ["-rate=0", f"-max-workers={workers or 32}", f"-workers={workers or 32}"]
    else:
        command += [f"-rate={rate:.0f}/s"]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise VegetaError(f"vegeta attack failed ({' '.join(command)}):\n{completed.stderr[-2000:]}")
    return read(results)


def read(results: Path) -> list[Hit]:
    encoded = subprocess.run(
        [str(binary()), "encode", "-to=json", str(results)], capture_output=True, text=True, check=True
    ).stdout
    rows = [json.loads(line) for line in encoded.splitlines() if line.strip()]
    if not rows:
        return []
    start = min(_nanoseconds(row["timestamp"]) for row in rows)
    return [
        Hit(
            (_nanoseconds(row["timestamp"]) - start) / 1e9,
            row["latency"] / 1e9,
            int(row["code"]),
            row.get("error", ""),
        )
        for row in rows
    ]


def _nanoseconds(timestamp: str) -> int:
    """RFC 3339 with nanoseconds (vegeta's) to integer nanoseconds since the epoch."""
    from datetime import datetime

    head, _, rest = timestamp.partition(".")
    digits = "".join(ch for ch in rest if ch.isdigit())
    zone = rest[len(digits) :]
    whole = datetime.fromisoformat(head + (zone if zone != "Z" else "+00:00"))
    return int(whole.timestamp()) * 1_000_000_000 + int((digits or "0").ljust(9, "0")[:9])

"""Serve the gateway with gunicorn: several processes, threads, TLS, graceful shutdown.

The app is created in each worker process after the fork (no preload), so each
process gets its own Kafka producer (librdkafka, with its poller thread); the producer starts
connecting as soon as the worker is up and is flushed and closed when it exits.
SIGTERM stops accepting, lets in-flight requests finish (``graceful_timeout``), then
the workers exit. Metrics of all processes are merged through a fresh
``PROMETHEUS_MULTIPROC_DIR`` made here, before the fork, and removed at exit.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import shutil
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from gateway import servererrors
from gateway.logs import logging_config
from gateway.metrics import MULTIPROC_ENV
from gateway.settings import ENV_TRUSTED_PROXIES, Settings, flag

ENV_BIND = "CBSP_GATEWAY_BIND"
ENV_WORKERS = "CBSP_GATEWAY_WORKERS"
ENV_THREADS = "CBSP_GATEWAY_THREADS"
ENV_CERTFILE = "CBSP_GATEWAY_CERTFILE"
ENV_KEYFILE = "CBSP_GATEWAY_KEYFILE"
ENV_GRACEFUL_TIMEOUT = "CBSP_GATEWAY_GRACEFUL_TIMEOUT_S"
ENV_LOG_FORMAT = "CBSP_LOG_FORMAT"
ENV_ACCESS_LOG = "CBSP_GATEWAY_ACCESS_LOG"
WORKER_CONNECTIONS = 4096  # per process (gunicorn's default: 1,000)
FILES_RESERVED = 256  # open files a process keeps for other things (logs, Kafka, the spool)


@dataclass(frozen=True)
class ServerSettings:
    bind: str = "127.0.0.1:8080"
    workers: int = 2
    threads: int = 8
    certfile: str | None = None
    keyfile: str | None = None
    graceful_timeout_s: int = 30
    log_format: str = "text"
    access_log: bool = True
    trusted_proxies: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ServerSettings:
        env = os.environ if env is None else env
        certfile, keyfile = env.get(ENV_CERTFILE) or None, env.get(ENV_KEYFILE) or None
        if (certfile is None) != (keyfile is None):
            raise ValueError(f"set both {ENV_CERTFILE} and {ENV_KEYFILE} to serve TLS, or neither")
        return cls(
            bind=env.get(ENV_BIND, cls.bind),
            workers=int(env.get(ENV_WORKERS, str(cls.workers))),
            threads=int(env.get(ENV_THREADS, str(cls.threads))),
            certfile=certfile,
            keyfile=keyfile,
            graceful_timeout_s=int(env.get(ENV_GRACEFUL_TIMEOUT, str(cls.graceful_timeout_s))),
            log_format=env.get(ENV_LOG_FORMAT, cls.log_format),
            access_log=flag(env, ENV_ACCESS_LOG, cls.access_log),
            trusted_proxies=env.get(ENV_TRUSTED_PROXIES, ""),
        )

    def gunicorn_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {
            "bind": self.bind,
            "workers": self.workers,
            "threads": self.threads,
            # gthread, with the wait of each request for a thread known (gateway.admission)
            "worker_class": "gateway.serverworker.AdmissionWorker",
            "graceful_timeout": self.graceful_timeout_s,
            "timeout": 60,
            "keepalive": 5,
            # connections per process, kept-alive ones included: past it gunicorn stops accepting and
            # new connections wait in the listen backlog, then are dropped (SYN again after 1, 3, 7 s),
            # where the admission bound cannot answer them; a refusal costs less than that wait
            "worker_connections": worker_connections(),
            "preload_app": False,
            # the app writes one access line per request (gateway.logs.log_access), at a fraction
            # of the cost of gunicorn's: gunicorn's own access log stays off (with a logging
            # configuration, gunicorn would still build and log its atoms for every request)
            "accesslog": None,
            "logger_class": ServerLogger,
            "logconfig_dict": logging_config(self.log_format, access_log=self.access_log),
            # X-Forwarded-* (scheme) only from the proxies X-Forwarded-For is believed from
            "forwarded_allow_ips": self.trusted_proxies,
            "forwarder_headers": "",
            "post_worker_init": _post_worker_init,
            "worker_exit": _worker_exit,
            "child_exit": _child_exit,
            "control_socket_disable": True,  # one fixed path per user: several gateways would clash
        }
        if self.certfile and self.keyfile:
            options.update(certfile=self.certfile, keyfile=self.keyfile)
        return options


def worker_connections(wanted: int = WORKER_CONNECTIONS) -> int:
    """``wanted``, or fewer when the open-files limit (raised to its hard limit here) is lower."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(100, min(wanted, int(soft) - FILES_RESERVED))


class ServerLogger(Logger):  # type: ignore[misc]  # gunicorn is untyped
    """gunicorn's logger without its access lines: the app writes them (gateway.logs.log_access)."""

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        return


class GatewayServer(BaseApplication):  # type: ignore[misc]  # gunicorn is untyped
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)
        servererrors.install()

    def load(self) -> Any:
        from gateway import create_app

        return create_app()


def _post_worker_init(worker: Any) -> None:
    from gateway import start_background

    start_background(worker.wsgi)


def _worker_exit(server: Any, worker: Any) -> None:
    from gateway import close_app

    if getattr(worker, "wsgi", None) is not None:
        close_app(worker.wsgi)


def _child_exit(server: Any, worker: Any) -> None:
    from gateway.metrics import mark_process_dead

    mark_process_dead(worker.pid)


def main(argv: list[str]) -> int:
    try:
        settings = _settings(argv)
        Settings.from_env()  # a bad configuration fails here, with its message, not in every worker
        options = settings.gunicorn_options()
    except ValueError as exc:
        print(f"cbsp gateway: {exc}", file=sys.stderr)
        return 2
    metrics_dir = tempfile.mkdtemp(prefix="cbsp-gateway-metrics-")
    os.environ[MULTIPROC_ENV] = metrics_dir  # before the workers fork and import prometheus_client
    try:
        GatewayServer(options).run()
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


def _settings(argv: list[str]) -> ServerSettings:
    """The environment's settings, with --bind, --workers, --threads on top."""
    defaults = ServerSettings.from_env()
    parser = argparse.ArgumentParser(prog="cbsp gateway", description="serve the HTTP gateway")
    parser.add_argument("--bind", default=defaults.bind)
    parser.add_argument("--workers", type=int, default=defaults.workers)
    parser.add_argument("--threads", type=int, default=defaults.threads)
    return ServerSettings(**{**vars(defaults), **vars(parser.parse_args(argv))})

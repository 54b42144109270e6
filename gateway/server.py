"""Serve the gateway with gunicorn: several processes, threads, graceful shutdown.

The app is created in each worker process after the fork (no preload), so each
process gets its own Kafka producer on its own event loop.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from gunicorn.app.base import BaseApplication

ENV_BIND = "CBSP_GATEWAY_BIND"
ENV_WORKERS = "CBSP_GATEWAY_WORKERS"
ENV_THREADS = "CBSP_GATEWAY_THREADS"


class GatewayServer(BaseApplication):  # type: ignore[misc]  # gunicorn is untyped
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from gateway import create_app

        return create_app()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="cbsp gateway", description="serve the HTTP gateway")
    parser.add_argument("--bind", default=os.environ.get(ENV_BIND, "127.0.0.1:8080"))
    parser.add_argument("--workers", type=int, default=int(os.environ.get(ENV_WORKERS, "2")))
    parser.add_argument("--threads", type=int, default=int(os.environ.get(ENV_THREADS, "8")))
    args = parser.parse_args(argv)
    GatewayServer(
        {
            "bind": args.bind,
            "workers": args.workers,
            "threads": args.threads,
            "worker_class": "gthread",
            "graceful_timeout": 30,
            "timeout": 60,
            "accesslog": "-",
            "preload_app": False,
        }
    ).run()
    return 0

"""The HTTP ceiling: the gateway's server configuration answering a no-op endpoint.

Same gunicorn settings and the same Flask, but the handler only reads the body and
answers `{"accepted": 1}`: no auth, no parsing, no Kafka.
"""

from __future__ import annotations

import argparse
from typing import Any

from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue

from gateway.server import GatewayServer


def create_noop_app() -> Flask:
    app = Flask(__name__)

    @app.post("/v1/callbacks/<provider>")
    def accept(provider: str) -> ResponseReturnValue:
        request.get_data()
        return jsonify(accepted=1)

    @app.get("/healthz")
    def healthz() -> ResponseReturnValue:
        return jsonify(status="ok")

    return app


class NoopServer(GatewayServer):
    def load(self) -> Any:
        return create_noop_app()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bind", required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    NoopServer(
        {
            "bind": args.bind,
            "workers": args.workers,
            "threads": args.threads,
            "worker_class": "gthread",
            "graceful_timeout": 30,
            "timeout": 60,
            "accesslog": None,
            "preload_app": False,
        }
    ).run()


if __name__ == "__main__":
    main()

"""The worker's own pages: ``GET /metrics`` (Prometheus), and the live status page: ``/``
redirects to ``/status``, which loads ``/status.js``; the script polls ``/status.json`` and draws
the numbers (no build step, no CDN: both files are in ``streams/static/`` and served from here).

Whichever worker is asked ``/status.json`` answers for the whole group: it asks every worker the
partition assignor knows (``/status.json?scope=worker``), adds their parts up
(:mod:`streams.status.report`), and names the workers that did not answer.
"""

from __future__ import annotations

import asyncio
from importlib.resources import files
from typing import Any

import aiohttp
from aiohttp.web import Response
from faust import web

from schemas.topicnames import TopicNames
from streams.status import report
from streams.status.counters import Counters
from streams.status.metrics import exposition, set_gauges
from streams.status.snapshot import snapshot
from streams.views import is_this_worker

PART_TIMEOUT = aiohttp.ClientTimeout(total=5)
STATIC = files("streams") / "static"
NO_CACHE = {"Cache-Control": "no-store"}


def install_pages(app: Any, counters: Counters, message_states: Any, topics: TopicNames) -> None:
    """Add the pages to ``app``'s web server."""

    @app.page("/metrics")
    class MetricsView(web.View):  # type: ignore[misc]  # faust is untyped here
        async def get(self, request: web.Request) -> Response:
            set_gauges(counters.metrics, await snapshot(app))
            body, content_type = exposition(counters.metrics)
            return Response(body=body, headers={"Content-Type": content_type})

    @app.page("/")
    class IndexView(web.View):  # type: ignore[misc]  # faust is untyped here
        async def get(self, request: web.Request) -> web.Response:
            return self.text("", status=302, headers={"Location": "/status"})

    @app.page("/status")
    class StatusPageView(web.View):  # type: ignore[misc]  # faust is untyped here
        async def get(self, request: web.Request) -> web.Response:
            return self.html((STATIC / "status.html").read_text(encoding="utf-8"), headers=NO_CACHE)

    @app.page("/status.js")
    class StatusScriptView(web.View):  # type: ignore[misc]  # faust is untyped here
        async def get(self, request: web.Request) -> web.Response:
            script = (STATIC / "status.js").read_text(encoding="utf-8")
            return self.text(script, content_type="text/javascript", headers=NO_CACHE)

    @app.page("/status.json")
    class StatusView(web.View):  # type: ignore[misc]  # faust is untyped here
        async def get(self, request: web.Request) -> web.Response:
            scope = request.query.get("scope", "group")
            if scope not in ("group", "worker"):
                return self.json(
                    {"error": "invalid_scope", "detail": f"scope must be group or worker, not {scope!r}"},
                    status=400,
                )
            own = await report.worker_part(
                app, counters.activity, message_states, str(app.conf.canonical_url)
            )
            if scope == "worker":
                return self.json(own, headers=NO_CACHE)
            others = [url for url in app.router.tables_metadata() if not is_this_worker(app, str(url))]
            answers = await asyncio.gather(*(fetch_part(app, str(url)) for url in others))
            parts = [own, *(part for part in answers if isinstance(part, dict))]
            failures = {
                str(url): answer
                for url, answer in zip(others, answers, strict=True)
                if isinstance(answer, str)
            }
            return self.json(report.merge(parts, failures, topics), headers=NO_CACHE)


async def fetch_part(app: Any, url: str) -> dict[str, Any] | str:
    """Another worker's part, or why it is missing."""
    try:
        async with app.http_client.get(
            f"{url.rstrip('/')}/status.json", params={"scope": "worker"}, timeout=PART_TIMEOUT
        ) as response:
            if response.status != 200:
                return f"answered {response.status}"
            part: dict[str, Any] = await response.json()
            return part
    except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
        return f"did not answer: {type(exc).__name__}"

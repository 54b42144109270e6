"""Table views on the worker web server, routed to the worker that owns the key's partition."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from faust import web
from faust.exceptions import SameNode

from streams.app import app
from streams.tables import message_states


@app.page("/messages/{provider}/{message_id}")
class MessageView(web.View):  # type: ignore[misc]  # faust is untyped here
    async def get(self, request: web.Request, provider: str, message_id: str) -> web.Response:
        message_key = f"{provider}:{message_id}"
        key = message_key.encode()
        try:
            return await app.router.route_req(message_states.name, key, self.web, request)
        except SameNode:
            pass
        found = message_states.get(key)
        if found is None:
            return self.json(
                {"error": "not_found", "detail": f"no message {message_key!r} is known (yet)"}, status=404
            )
        return self.json(render_state(found))


def render_state(found: dict[str, Any]) -> dict[str, Any]:
    """The state as JSON: times as RFC 3339 strings."""
    rendered = dict(found)
    for key in ("first_event_at", "last_event_at"):
        rendered[key] = rfc3339(found[key])
    if found.get("status") is not None:
        status = dict(found["status"])
        status["at"] = rfc3339(status["at"])
        rendered["status"] = status
    return rendered


def rfc3339(epoch_millis: int | None) -> str | None:
    if epoch_millis is None:
        return None
    moment = datetime.fromtimestamp(epoch_millis / 1000, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

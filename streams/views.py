"""Table views on the worker web server, answered by the worker that owns the key's partition.

Whichever worker is asked finds the owner from the partition assignment (murmur2 of the key
bytes over the changelog's partitions, as the records were partitioned) and forwards the
request there once; the owner answers from its table. While the group rebalances or restores
its tables, or when two workers disagree about the owner, the answer is ``503`` with
``Retry-After`` rather than a ``404`` for a key that exists.

Why not Faust's own router (``app.router.route_req`` behind ``@app.table_route``), as read in
faust-streaming 0.15.3's ``faust/app/router.py`` and ``faust/assignor/partition_assignor.py``:

- it finds the owner's partition with the *producer's* metadata (``app.producer.key_partition``),
  which a worker that has produced nothing to the changelog yet may not have: the lookup fails
  instead of answering ``503``; here the consumer's metadata, which every worker has;
- it forwards every header of the request as it came and marks nothing: two workers that
  disagree about the owner during a rebalance forward the request to each other until one
  times out; here a forwarded request is never forwarded again, it is answered ``503``;
- it waits on the owner without a timeout and drops its ``Retry-After``; here 10 s, and the
  owner's ``Retry-After`` is passed on;
- while the group rebalances it answers from whatever the assignor held last; here ``503``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
from faust import web
from yarl import URL

from streams import cascade, staterecords
from streams.tables import Tables

ROUTED_HEADER = "X-Cbsp-Routed"  # set on a forwarded request: it is never forwarded again
FORWARD_TIMEOUT = aiohttp.ClientTimeout(total=10)


def install_views(app: Any, tables: Tables) -> None:
    """Add the table views to ``app``'s web server."""

    @app.page("/messages/{provider}/{message_id}")
    class MessageView(web.View):  # type: ignore[misc]  # faust is untyped here
        async def get(self, request: web.Request, provider: str, message_id: str) -> web.Response:
            key = f"{provider}:{message_id}"
            return await answer(app, self, request, tables.message_states, key, render_message)

    @app.page("/cascades/{provider}/{cascade_id}")
    class CascadeView(web.View):  # type: ignore[misc]  # faust is untyped here
        async def get(self, request: web.Request, provider: str, cascade_id: str) -> web.Response:
            key = f"{provider}:{cascade_id}"
            return await answer(app, self, request, tables.cascade_states, key, render_cascade)


def render_message(value: bytes) -> dict[str, Any]:
    """The MessageState record as JSON: money as decimal strings, times as RFC 3339."""
    rendered: dict[str, Any] = staterecords.jsonable(staterecords.to_record(staterecords.from_json(value)))
    return rendered


def render_cascade(value: bytes) -> dict[str, Any]:
    return cascade.render(cascade.from_json(value))


async def answer(
    app: Any,
    view: web.View,
    request: web.Request,
    table: Any,
    key: str,
    render: Callable[[bytes], dict[str, Any]],
) -> web.Response:
    if app.rebalancing:
        return unavailable(view, "the workers are rebalancing or restoring their tables")
    owner = owner_of(app, table, key.encode())
    if owner is None:
        return unavailable(view, "no worker owns this key's partition yet")
    if not is_this_worker(app, owner):
        if request.headers.get(ROUTED_HEADER):
            return unavailable(view, "the workers do not agree yet on who owns this key")
        return await forward(app, view, request, owner)
    found = table.get(key.encode())
    if found is None:
        return view.json({"error": "not_found", "detail": f"{key!r} is not known (yet)"}, status=404)
    return view.json(render(found))


def owner_of(app: Any, table: Any, key: bytes) -> str | None:
    """The URL of the worker whose table holds ``key``, or None while that is not known."""
    topic = table.changelog_topic.get_topic_name()
    partition = app.consumer.key_partition(topic, key)  # murmur2 over the consumer's metadata
    if partition is None:
        return None
    for url, assigned in app.assignor.table_metadata(topic).items():
        if partition in assigned.get(topic, ()):
            return str(url)
    return None


def is_this_worker(app: Any, url: str) -> bool:
    owner, this = URL(url), URL(str(app.conf.canonical_url))
    return (owner.host, owner.port) == (this.host, this.port)


async def forward(app: Any, view: web.View, request: web.Request, owner: str) -> web.Response:
    target = URL(owner).with_path(request.rel_url.raw_path, encoded=True)
    try:
        async with app.http_client.get(
            target, headers={ROUTED_HEADER: "1"}, timeout=FORWARD_TIMEOUT
        ) as response:
            body = await response.text()
            retry = {k: v for k, v in response.headers.items() if k.lower() == "retry-after"}
            return view.text(body, content_type=response.content_type, status=response.status, headers=retry)
    except (TimeoutError, aiohttp.ClientError) as exc:
        return unavailable(view, f"the worker that owns this key did not answer: {type(exc).__name__}")


def unavailable(view: web.View, detail: str) -> web.Response:
    return view.json({"error": "unavailable", "detail": detail}, status=503, headers={"Retry-After": "1"})

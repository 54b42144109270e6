"""Revicom: a JSON array of callbacks per POST, keyed by ``message_uuid``.

The kind comes from ``callback_event``: delivered/sent/read are statuses, then
price, click and inbound_sent. An event this module does not know is kept raw
(kind ``other``), never refused: providers add events.
"""

from __future__ import annotations

from typing import Any

from gateway.errors import ShapeError
from gateway.providers.base import JSON, Callback, require_object, require_str, type_name

name = "revicom"
content_types = frozenset({JSON})
empty_reply_kinds: frozenset[str] = frozenset()

KINDS = {
    "delivered": "status",
    "sent": "status",
    "read": "status",
    "price": "price",
    "click": "click",
    "inbound_sent": "inbound",
}


def split(body: Any) -> list[Callback]:
    items = [body] if isinstance(body, dict) else body
    if not isinstance(items, list):
        raise ShapeError("", f"expected a JSON array of callbacks, got {type_name(body)}")
    if not items:
        raise ShapeError("", "empty array: no callback in the request")
    return [_callback(item, f"[{index}]") for index, item in enumerate(items)]


def _callback(item: Any, path: str) -> Callback:
    obj = require_object(item, path)
    message_id = require_str(obj, "message_uuid", path)
    event = require_str(obj, "callback_event", path)
    return Callback(provider=name, kind=KINDS.get(event, "other"), message_id=message_id, payload=obj)

"""Revicom: a JSON array of callbacks per POST, keyed by ``message_uuid``.

The kind comes from ``callback_event``: delivered/sent/read are statuses, then
price, click and inbound_sent. An event this module does not know is kept raw
(kind ``other``), never refused: providers add events.

An inbound is keyed by ``item.messageUuid``, the inbound message's own uuid; the
docs show it equal to ``message_uuid``, which is the fallback when the item lacks it.
"""

from __future__ import annotations

from collections.abc import Mapping
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
    kind = KINDS.get(require_str(obj, "callback_event", path), "other")
    message_id = _inbound_id(obj, path) if kind == "inbound" else None
    return Callback(
        provider=name,
        kind=kind,
        message_id=message_id or require_str(obj, "message_uuid", path),
        payload=obj,
    )


def _inbound_id(obj: Mapping[str, Any], path: str) -> str | None:
    """``item.messageUuid``; None when the item does not carry it."""
    item = require_object(obj.get("item"), f"{path}.item")
    if item.get("messageUuid") is None:
        return None
    return require_str(item, "messageUuid", f"{path}.item")

"""Fortytwo: one URL for delivery reports (``data[]`` bundles) and replies, JSON only.

A report bundle is split into one callback per ``data[]`` item, keyed by its
``message_id``; its payload is the item with the bundle's other fields
(``api_job_id``, ``client_job_id``) merged in (the item's own fields win), so one
raw record says everything the normalizer needs.
A reply (``reply_message_id``) is one callback; ``req_uuid`` is per attempt, not an id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.errors import ShapeError
from gateway.providers.base import JSON, Callback, require_object, require_str, type_name

name = "fortytwo"
content_types = frozenset({JSON})
empty_reply_kinds: frozenset[str] = frozenset()


def split(body: Any) -> list[Callback]:
    obj = require_object(body, "")
    if "data" in obj:
        return _reports(obj)
    if "reply_message_id" in obj:
        message_id = require_str(obj, "reply_message_id", "")
        return [Callback(provider=name, kind="inbound", message_id=message_id, payload=obj)]
    raise ShapeError("data", "missing: neither a delivery report (data[]) nor a reply (reply_message_id)")


def _reports(obj: Mapping[str, Any]) -> list[Callback]:
    items = obj["data"]
    if not isinstance(items, list):
        raise ShapeError("data", f"expected an array of reports, got {type_name(items)}")
    if not items:
        raise ShapeError("data", "empty array: no report in the request")
    bundle = {key: value for key, value in obj.items() if key != "data"}
    return [_report(bundle, item, f"data[{index}]") for index, item in enumerate(items)]


def _report(bundle: Mapping[str, Any], item: Any, path: str) -> Callback:
    report = require_object(item, path)
    message_id = require_str(report, "message_id", path)
    return Callback(provider=name, kind="status", message_id=message_id, payload={**bundle, **report})

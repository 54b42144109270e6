"""edna: one JSON object per POST, a delivery status or an inbound message, on one URL.

A body with ``imOutMessageId`` or ``dlvStatus`` is a status, keyed by ``imOutMessageId``;
else one with ``id`` or ``receivedAt`` is an inbound, keyed by ``id``. edna sends the
inbound ``id`` as a JSON number although its docs say string: both are accepted.
A body that is neither cannot be keyed and is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.errors import ShapeError
from gateway.providers.base import JSON, Callback, require_object, type_name

name = "edna"
content_types = frozenset({JSON})
empty_reply_kinds: frozenset[str] = frozenset()

# kind -> (fields that recognise it, the id field it is keyed by)
SHAPES = (
    ("status", ("imOutMessageId", "dlvStatus"), "imOutMessageId"),
    ("inbound", ("id", "receivedAt"), "id"),
)


def split(body: Any) -> list[Callback]:
    obj = require_object(body, "")
    for kind, markers, id_field in SHAPES:
        if any(obj.get(marker) is not None for marker in markers):
            return [Callback(provider=name, kind=kind, message_id=_require_id(obj, id_field), payload=obj)]
    raise ShapeError(
        "", "neither a delivery status (imOutMessageId, dlvStatus) nor an inbound message (id, receivedAt)"
    )


def _require_id(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    if value is None:
        raise ShapeError(key, "missing")
    if isinstance(value, bool) or not isinstance(value, str | int) or str(value).strip() == "":
        raise ShapeError(key, f"expected a non-empty string or an integer, got {type_name(value)}")
    return str(value)

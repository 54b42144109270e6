"""RecessMobile: one callback per POST, form fields (usually) or a JSON object, ``type`` says which.

``delivery_report`` is keyed by ``message_id``. ``incoming_message`` carries no id, so
this module derives a stable one (:func:`derived_id`) from what identifies the MO;
the normalizer reads it back from the message key and never recomputes it. Any other
``type`` (session and subscription callbacks) is kept raw as kind ``other``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from gateway.errors import ShapeError
from gateway.providers.base import FORM, JSON, Callback, require_object, require_str, type_name

name = "recessmobile"
content_types = frozenset({FORM, JSON})
# incoming_message expects a reply text and other types may expect tags: any non-empty body
# would be taken as one, so those are answered with an empty 200 (no auto-reply).
empty_reply_kinds = frozenset({"inbound", "other"})

KINDS = {"delivery_report": "status", "incoming_message": "inbound"}
INBOUND_ID_FIELDS = ("api_key", "phone_number", "sent_at", "body")
ID_NAMESPACE = uuid.UUID("0b6f2a53-5d0e-4c8e-9a51-7d3c2f0e8b41")


def split(body: Any) -> list[Callback]:
    obj = require_object(body, "")
    kind = KINDS.get(require_str(obj, "type", ""), "other")
    return [Callback(provider=name, kind=kind, message_id=_message_id(obj, kind), payload=obj)]


def _message_id(obj: Mapping[str, Any], kind: str) -> str:
    if kind == "status":
        return _text(obj, "message_id")
    if kind == "inbound":
        return derived_id([_text(obj, key, allow_empty=key == "body") for key in INBOUND_ID_FIELDS])
    known = obj.get("message_id")  # another type: keyed by its message when it names one
    if isinstance(known, str | int) and not isinstance(known, bool) and str(known).strip():
        return str(known)
    return _payload_id(obj)


def derived_id(parts: list[str]) -> str:
    """A stable id from the fields that identify a callback: a retry gets the same id."""
    return str(uuid.uuid5(ID_NAMESPACE, "\x1f".join(parts)))


def _payload_id(obj: Mapping[str, Any]) -> str:
    """An id for a callback of a type this module does not know: stable over its fields."""
    return derived_id([f"{key}={obj[key]}" for key in sorted(obj)])


def _text(obj: Mapping[str, Any], key: str, *, allow_empty: bool = False) -> str:
    """A field as text: form values are strings, JSON may carry numbers."""
    value = obj.get(key)
    if value is None:
        raise ShapeError(key, "missing")
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ShapeError(key, f"expected a string or a number, got {type_name(value)}")
    text = str(value)
    if not allow_empty and not text.strip():
        raise ShapeError(key, "expected a non-empty value, got an empty string")
    return text

"""What the gateway knows of a provider: who may call, what the body looks like, how to split and key it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from gateway.bodies import FORM, JSON
from gateway.errors import ShapeError

__all__ = ["FORM", "JSON", "Callback", "Provider", "require_object", "require_str", "type_name"]


@dataclass(frozen=True)
class Callback:
    """One callback out of a provider's request: one raw Kafka record."""

    provider: str
    kind: str
    message_id: str
    payload: Mapping[str, Any]

    @property
    def message_key(self) -> str:
        return f"{self.provider}:{self.message_id}"


class Provider(Protocol):
    name: str
    content_types: frozenset[str]
    # kinds the provider expects an empty 200 body for (recessmobile incoming_message: no auto-reply)
    empty_reply_kinds: frozenset[str]

    def split(self, body: Any) -> list[Callback]:
        """The callbacks of one parsed request body; ShapeError names the first bad field."""
        ...


def require_object(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ShapeError(path, f"expected an object, got {type_name(value)}")
    return value


def require_str(obj: Mapping[str, Any], key: str, path: str) -> str:
    field_path = f"{path}.{key}" if path else key
    if key not in obj or obj[key] is None:
        raise ShapeError(field_path, "missing")
    value = obj[key]
    if not isinstance(value, str) or not value.strip():
        raise ShapeError(field_path, f"expected a non-empty string, got {type_name(value)}")
    return value


def type_name(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    for python_type, name in names.items():
        if isinstance(value, python_type):
            return name
    return "number" if isinstance(value, int | float) else type(value).__name__

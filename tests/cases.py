"""Provider sample cases from tests/data/<provider>/*.json, shared by unit and integration tests.

A case file holds one provider request and what it must become::

    {
      "description": "what this case shows",
      "content_type": "application/json",          # or application/x-www-form-urlencoded
      "body": <JSON value, or the form-encoded string>,
      "callbacks": [{"kind": "status", "message_key": "revicom:..."}],   # the gateway's split
      "events": [{"kind": "status", "record": {... every field but received_at and source ...}}],
      "rejected": {"path": "[0].message_uuid"},       # instead: the gateway refuses it (400)
      "dead_letter": {"index": 0, "path": "status_time"}  # a split callback the normalizer refuses
    }

Times in expected records are RFC 3339 strings with milliseconds and ``Z``; decimals are strings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

DATA = Path(__file__).parent / "data"


@dataclass(frozen=True)
class Case:
    path: Path
    spec: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.provider}/{self.path.stem}"

    @property
    def provider(self) -> str:
        return self.path.parent.name

    @property
    def content_type(self) -> str:
        return str(self.spec.get("content_type", "application/json"))

    def body_bytes(self) -> bytes:
        body = self.spec["body"]
        if isinstance(body, str):
            return body.encode()
        if self.content_type.startswith("application/x-www-form-urlencoded"):
            return urlencode(body).encode()
        return json.dumps(body, ensure_ascii=False).encode()


def load_cases(provider: str | None = None) -> list[Case]:
    pattern = f"{provider}/*.json" if provider else "*/*.json"
    return [Case(path, json.loads(path.read_text())) for path in sorted(DATA.glob(pattern))]


def plain(value: Any) -> Any:
    """A record with datetimes as RFC 3339 (ms, Z) and decimals as strings, for comparison."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


def comparable(record: dict[str, Any]) -> dict[str, Any]:
    """The record without the fields that depend on where and when it was received."""
    return {k: v for k, v in plain(record).items() if k not in ("received_at", "source")}

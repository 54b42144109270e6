"""Request bodies: bytes and content type in, the parsed body (JSON value or form dict) out."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from gateway.errors import UnparseableBodyError, UnsupportedMediaTypeError

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def decode_body(
    raw: bytes, mimetype: str, charset: str | None, accepted: frozenset[str], provider: str
) -> Any:
    """Parse ``raw`` as the content type says; 415 if the provider does not send that type."""
    if mimetype not in accepted:
        raise UnsupportedMediaTypeError(
            f"content type {mimetype or '(none)'!r} is not accepted for {provider}; "
            f"send {' or '.join(sorted(accepted))}"
        )
    encoding = charset or "utf-8"
    try:
        text = raw.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise UnparseableBodyError(f"body is not valid {encoding}: {exc}") from exc
    if mimetype == FORM:
        return dict(parse_qsl(text, keep_blank_values=True))
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UnparseableBodyError(f"body is not valid JSON: {exc}") from exc

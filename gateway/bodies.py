"""Request bodies: read within the limit, then bytes and content type in, the parsed body out."""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Mapping
from typing import IO, Any, NoReturn
from urllib.parse import parse_qsl

from gunicorn.http.errors import ParseException
from werkzeug.wsgi import LimitedStream

from gateway.errors import BodyTooLargeError, UnparseableBodyError, UnsupportedMediaTypeError

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
READ_CHUNK = 64 * 1024
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def read_body(environ: Mapping[str, Any], declared: int | None, limit: int) -> bytes:
    """The request body, at most ``limit`` bytes actually read (chunked bodies included).

    A declared ``Content-Length`` over the limit is refused before reading anything;
    a body that turns out longer than the limit while reading is refused as soon as
    the limit is passed. Gunicorn terminates ``wsgi.input`` itself (chunked or not);
    under a server that does not, a body without ``Content-Length`` is empty.
    """
    if declared is not None and declared > limit:
        _too_large(limit, f"Content-Length is {declared}")
    stream: IO[bytes] = environ["wsgi.input"]
    if not environ.get("wsgi.input_terminated"):
        if declared is None:
            return b""
        stream = LimitedStream(stream, declared)  # type: ignore[assignment]  # a readable stream
    body = _read_at_most(stream, limit)
    if declared is not None and len(body) != declared:
        raise UnparseableBodyError(f"body ended after {len(body)} of the {declared} bytes announced")
    return body


def _read_at_most(stream: IO[bytes], limit: int) -> bytes:
    body = bytearray()
    while True:
        try:
            chunk = stream.read(min(READ_CHUNK, limit + 1 - len(body)))
        except (OSError, ValueError, ParseException) as exc:  # a bad chunk framing, a client gone
            raise UnparseableBodyError(f"the request body could not be read: {exc}") from exc
        if not chunk:
            return bytes(body)
        body += chunk
        if len(body) > limit:
            _too_large(limit, "the body is longer")


def _too_large(limit: int, what: str) -> NoReturn:
    raise BodyTooLargeError(f"request body is larger than the limit of {limit} bytes ({what})")


def decode_body(
    raw: bytes, mimetype: str, charset: str | None, accepted: frozenset[str], provider: str
) -> Any:
    """Parse ``raw`` as the content type says; 415 if the provider does not send that type."""
    if mimetype not in accepted:
        raise UnsupportedMediaTypeError(
            f"content type {mimetype or '(none)'!r} is not accepted for {provider}; "
            f"send {' or '.join(sorted(accepted))}"
        )
    encoding = _encoding(charset)
    text = _text(raw, encoding)
    if mimetype == FORM:
        return _decode_form(text, encoding)
    try:
        parsed = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError; so is a huge number
        raise UnparseableBodyError(f"body is not valid JSON: {exc}") from exc
    if SURROGATE_ESCAPE.search(text):
        _require_text(json.dumps(parsed, ensure_ascii=False))
    return parsed


def _encoding(charset: str | None) -> str:
    """The codec of a charset parameter (UTF-8 when absent, a UTF-8 BOM tolerated)."""
    try:
        name = codecs.lookup(charset or "utf-8").name
    except LookupError:
        raise UnparseableBodyError(f"unknown charset {charset!r}") from None
    return "utf-8-sig" if name == "utf-8" else name


def _text(raw: bytes, encoding: str) -> str:
    try:
        return _require_text(raw.decode(encoding))
    except (UnicodeError, LookupError) as exc:  # LookupError: a codec that is not a text encoding
        raise UnparseableBodyError(f"body is not valid {encoding}: {exc}") from exc


def _require_text(text: str) -> str:
    """``text`` if it is Unicode text; a lone surrogate (``"\\ud800"`` in JSON) is not."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UnparseableBodyError(f"body holds a lone surrogate, not text: {exc.reason}") from None
    return text


def _decode_form(text: str, encoding: str) -> dict[str, str]:
    """Form fields; percent-escapes are decoded with the charset too."""
    try:
        return dict(parse_qsl(text, keep_blank_values=True, encoding=encoding, errors="strict"))
    except (UnicodeError, LookupError, ValueError) as exc:
        raise UnparseableBodyError(f"form body is not valid {encoding}: {exc}") from exc


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")

"""Request bodies: the limit on bytes read, content types, charsets, what is not JSON."""

from __future__ import annotations

import io
from typing import Any

import pytest

from gateway.bodies import FORM, JSON, decode_body, read_body
from gateway.errors import BodyTooLargeError, UnparseableBodyError, UnsupportedMediaTypeError

BOTH = frozenset({JSON, FORM})


def environ(body: bytes, *, terminated: bool = True) -> dict[str, Any]:
    env: dict[str, Any] = {"wsgi.input": io.BytesIO(body)}
    if terminated:
        env["wsgi.input_terminated"] = True
    return env


def test_a_body_within_the_limit_is_read_whole() -> None:
    assert read_body(environ(b"x" * 100), None, 100) == b"x" * 100
    assert read_body(environ(b"x" * 100), 100, 100) == b"x" * 100


def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    stream = environ(b"x" * 10)
    with pytest.raises(BodyTooLargeError, match="limit of 5 bytes"):
        read_body(stream, 10, 5)
    assert stream["wsgi.input"].tell() == 0


def test_an_undeclared_body_is_refused_once_the_bytes_read_pass_the_limit() -> None:
    stream = environ(b"x" * 1_000_000)
    with pytest.raises(BodyTooLargeError, match="limit of 1000 bytes"):
        read_body(stream, None, 1000)
    assert stream["wsgi.input"].tell() == 1001


def test_a_body_shorter_than_announced_is_refused() -> None:
    with pytest.raises(UnparseableBodyError, match="ended after 3 of the 10 bytes"):
        read_body(environ(b"abc"), 10, 100)


def test_without_a_terminated_stream_only_the_declared_length_is_read() -> None:
    assert read_body(environ(b"abcdef", terminated=False), 3, 100) == b"abc"
    assert read_body(environ(b"abcdef", terminated=False), None, 100) == b""


@pytest.mark.parametrize(
    ("raw", "mimetype", "charset", "expected"),
    [
        (b'{"a": 1}', JSON, None, {"a": 1}),
        ('{"a": "привет"}'.encode("utf-16"), JSON, "utf-16", {"a": "привет"}),
        (b'\xef\xbb\xbf{"a": 1}', JSON, "UTF-8", {"a": 1}),  # a BOM is tolerated
        (
            "type=incoming_message&body=привет".encode(),
            FORM,
            None,
            {"type": "incoming_message", "body": "привет"},
        ),
        (b"body=%EF%F0%E8", FORM, "windows-1251", {"body": "при"}),  # percent-escapes in the charset
        ("body=при".encode("cp1251"), FORM, "cp1251", {"body": "при"}),
        (b"a=&b=2", FORM, None, {"a": "", "b": "2"}),
        (b'"\\ud83d\\ude00"', JSON, None, "\U0001f600"),  # an escaped surrogate pair is text
    ],
)
def test_decoded_bodies(raw: bytes, mimetype: str, charset: str | None, expected: Any) -> None:
    assert decode_body(raw, mimetype, charset, BOTH, "p") == expected


@pytest.mark.parametrize(
    ("raw", "mimetype", "charset", "message"),
    [
        (b"{", JSON, None, "not valid JSON"),
        (b"", JSON, None, "not valid JSON"),
        (b"[NaN]", JSON, None, "NaN is not a JSON number"),
        (b"1" * 5000, JSON, None, "not valid JSON"),  # over Python's int digit limit
        (b"[" * 100_000, JSON, None, "not valid JSON"),  # deeper than the recursion limit
        (b'{"a": "\\ud800"}', JSON, None, "lone surrogate"),
        (b"\xff\xfe\xfd", JSON, None, "not valid utf-8"),
        (b"{}", JSON, "no-such-charset", "unknown charset 'no-such-charset'"),
        (b"{}", JSON, "base64", "not valid base64"),  # a codec, but not a text encoding
        (b"body=%FF", FORM, None, "form body is not valid"),
        (b"\\ud800", FORM, "unicode_escape", "lone surrogate"),
    ],
)
def test_unparseable_bodies_are_named(raw: bytes, mimetype: str, charset: str | None, message: str) -> None:
    with pytest.raises(UnparseableBodyError, match=message):
        decode_body(raw, mimetype, charset, BOTH, "p")


def test_a_content_type_the_provider_does_not_send_is_415() -> None:
    with pytest.raises(UnsupportedMediaTypeError, match="'text/plain' is not accepted for edna") as raised:
        decode_body(b"{}", "text/plain", None, frozenset({JSON}), "edna")
    assert raised.value.status == 415
    with pytest.raises(UnsupportedMediaTypeError, match="'\\(none\\)'"):
        decode_body(b"{}", "", None, frozenset({JSON}), "edna")

"""Field readers shared by the normalizers: times, money, currencies, nested paths."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from streams.errors import NormalizeError
from streams.normalize.fields import (
    inside,
    optional_float,
    optional_str_or_int,
    parse_currency,
    parse_money,
    parse_time,
    required_object,
    required_str_or_int,
    string_fields,
)

NOON = datetime(2024, 3, 5, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [
        "2024-03-05T12:00:00Z",
        "2024-03-05T12:00:00.000Z",
        "2024-03-05T15:00:00+03:00",
        "2024-03-05T15:00:00.000+0300",
        "2024-03-05T17:30:00+05:30",
        "2024-03-05T07:00:00-0500",
        "2024-03-05T12:00:00",  # naive: taken as UTC
        1709640000,
        1709640000000,
        "1709640000",
        "1709640000000",
    ],
)
def test_every_time_format_is_the_same_aware_utc_instant(value: Any) -> None:
    parsed = parse_time(value, "t")
    assert parsed == NOON
    assert parsed.utcoffset() is not None and parsed.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "value",
    [None, "", "yesterday", "16.10.2020 18:51", True, [1], float("nan"), 1e300, "0001-01-01T00:00+03:00"],
)
def test_what_is_not_a_time_is_refused_naming_the_field(value: Any) -> None:
    with pytest.raises(NormalizeError) as refused:
        parse_time(value, "status_time")
    assert refused.value.path == "status_time"


@pytest.mark.parametrize(
    ("value", "amount"),
    [
        (0.1, "0.100000"),
        (2, "2.000000"),
        ("1.25", "1.250000"),
        (0.0123456789, "0.012346"),
        (0.0000005, "0.000000"),  # half-even
        (123456789012.5, "123456789012.500000"),
        (-0.35, "-0.350000"),
    ],
)
def test_money_is_a_decimal_with_six_places(value: Any, amount: str) -> None:
    parsed = parse_money(value, "price")
    assert isinstance(parsed, Decimal)
    assert str(parsed) == amount


@pytest.mark.parametrize("value", [True, None, "abc", "1,5", "NaN", "Infinity", float("inf"), 1e12, [1], {}])
def test_what_is_not_an_amount_is_refused(value: Any) -> None:
    with pytest.raises(NormalizeError) as refused:
        parse_money(value, "price")
    assert refused.value.path == "price"


@pytest.mark.parametrize(("value", "code"), [("EUR", "EUR"), ("rub", "RUB"), (" usd ", "USD")])
def test_currency_is_upper_case_iso_4217(value: str, code: str) -> None:
    assert parse_currency(value, "currency") == code


@pytest.mark.parametrize("value", ["EURO", "EU", "", "€UR", "12A", None, 978])
def test_what_is_not_a_currency_code_is_refused(value: Any) -> None:
    with pytest.raises(NormalizeError) as refused:
        parse_currency(value, "currency")
    assert refused.value.path == "currency"


def test_errors_inside_a_nested_object_name_the_full_path() -> None:
    item = {"specialContent": {"text": [42]}}
    with pytest.raises(NormalizeError) as refused, inside("item"):
        content = required_object(item, "specialContent")
        with inside("specialContent"):
            required_str_or_int(content, "text")
    assert refused.value.path == "item.specialContent.text"


def test_ids_and_codes_may_be_strings_or_integers_but_not_booleans() -> None:
    assert required_str_or_int({"id": 43407125}, "id") == "43407125"
    assert optional_str_or_int({"error_code": "6969"}, "error_code") == "6969"
    assert optional_str_or_int({"error_code": None}, "error_code") is None
    with pytest.raises(NormalizeError):
        optional_str_or_int({"error_code": True}, "error_code")
    with pytest.raises(NormalizeError) as refused:
        required_str_or_int({}, "id")
    assert refused.value.path == "id"


def test_coordinates_may_be_numbers_or_numeric_strings() -> None:
    assert optional_float({"latitude": "55.7558"}, "latitude") == 55.7558
    assert optional_float({"latitude": 37}, "latitude") == 37.0
    assert optional_float({"latitude": None}, "latitude") is None
    for bad in ("north", True, "nan", [1]):
        with pytest.raises(NormalizeError):
            optional_float({"latitude": bad}, "latitude")


def test_provider_fields_are_strings_and_skip_empty_values() -> None:
    payload = {"a": "x", "b": 111, "c": None, "d": "", "e": {"k": "в"}, "f": False}
    assert string_fields(payload, ["a", "b", "c", "d", "e", "f", "missing"]) == {
        "a": "x",
        "b": "111",
        "e": '{"k":"в"}',
        "f": "false",
    }

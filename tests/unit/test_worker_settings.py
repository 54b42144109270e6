"""Worker settings from the environment: defaults, and a clear error for each bad value."""

from __future__ import annotations

import pytest

from streams.settings import WorkerSettings


def test_defaults_when_nothing_is_set() -> None:
    settings = WorkerSettings.from_env({})
    assert settings.processing_guarantee == "exactly_once"
    assert settings.offset_reset == "earliest"
    assert settings.producer_linger_ms == 10.0


def test_the_producer_linger_is_read_in_milliseconds() -> None:
    assert WorkerSettings.from_env({"CBSP_WORKER_PRODUCER_LINGER_MS": "0"}).producer_linger_ms == 0.0
    assert WorkerSettings.from_env({"CBSP_WORKER_PRODUCER_LINGER_MS": "2.5"}).producer_linger_ms == 2.5


@pytest.mark.parametrize("value", ["-1", "soon", "nan", ""])
def test_a_bad_producer_linger_names_the_variable(value: str) -> None:
    with pytest.raises(ValueError, match="CBSP_WORKER_PRODUCER_LINGER_MS must be a number of milliseconds"):
        WorkerSettings.from_env({"CBSP_WORKER_PRODUCER_LINGER_MS": value})


@pytest.mark.parametrize(
    ("name", "value"),
    [("CBSP_PROCESSING_GUARANTEE", "at_most_once"), ("CBSP_WORKER_OFFSET_RESET", "middle")],
)
def test_a_bad_choice_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        WorkerSettings.from_env({name: value})

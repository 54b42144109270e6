"""Worker settings from the environment: defaults, and a clear error for each bad value."""

from __future__ import annotations

import pytest

from streams.settings import WorkerSettings


def test_defaults_when_nothing_is_set() -> None:
    settings = WorkerSettings.from_env({})
    assert settings.processing_guarantee == "exactly_once"
    assert settings.offset_reset == "earliest"
    assert settings.partitions == 8


@pytest.mark.parametrize(
    ("name", "value"),
    [("CBSP_PROCESSING_GUARANTEE", "at_most_once"), ("CBSP_WORKER_OFFSET_RESET", "middle")],
)
def test_a_bad_choice_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        WorkerSettings.from_env({name: value})

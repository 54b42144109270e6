"""Worker settings from the environment: defaults, and a clear error for each bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.app import create_app
from streams.settings import WorkerSettings


def test_defaults_when_nothing_is_set() -> None:
    settings = WorkerSettings.from_env({})
    assert settings.processing_guarantee == "exactly_once"
    assert settings.offset_reset == "earliest"
    assert settings.partitions == 8
    assert settings.standby_replicas == 0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CBSP_PROCESSING_GUARANTEE", "at_most_once"),
        ("CBSP_WORKER_OFFSET_RESET", "middle"),
        ("CBSP_WORKER_STANDBY_REPLICAS", "-1"),
        ("CBSP_WORKER_STANDBY_REPLICAS", "one"),
    ],
)
def test_a_bad_choice_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        WorkerSettings.from_env({name: value})


def test_standby_replicas_reach_the_faust_app(tmp_path: Path) -> None:
    for env, replicas in (({}, 0), ({"CBSP_WORKER_STANDBY_REPLICAS": "1"}, 1)):
        settings = WorkerSettings.from_env({**env, "CBSP_WORKER_DATA_DIR": str(tmp_path)})
        assert create_app(settings).conf.table_standby_replicas == replicas

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.pipeline import Pipeline


@pytest.fixture(scope="module")
def pipeline(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """One worker and one gateway on this module's own topics and consumer group."""
    running = Pipeline(kafka_bootstrap, tmp_path_factory.mktemp("pipeline"))
    try:
        running.start_worker()
        running.start_gateway()
        yield running
    finally:
        running.stop()


@pytest.fixture
def fresh_pipeline(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Pipeline]:
    """Nothing started yet: the test starts its own workers and gateway (own topics, own group)."""
    running = Pipeline(kafka_bootstrap, tmp_path)
    try:
        yield running
    finally:
        running.stop()

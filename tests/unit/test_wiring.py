"""A worker is put together in one place (``streams.wiring``), each part handed what it needs: two
workers built in one process share nothing, and the Faust patches refuse a Faust they were not
written for. Nothing here talks to Kafka: building the app connects to nothing."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pytest
from faust.tables import TableManager

from streams import faustpatches
from streams.faustpatches.restore import BulkRestoringTableManager
from streams.faustpatches.transport import Transport
from streams.settings import WorkerSettings
from streams.wiring import Worker, build_worker


def worker(tmp_path: Path, **env: str) -> Worker:
    return build_worker(WorkerSettings.from_env({"CBSP_WORKER_DATA_DIR": str(tmp_path), **env}))


def routes(app: object) -> set[str]:
    web_app = app.web.web_app  # type: ignore[attr-defined]
    return {route.resource.canonical for route in web_app.router.routes()}


def test_a_worker_gets_its_patched_transport_batch_path_tables_agents_and_pages(tmp_path: Path) -> None:
    built = worker(tmp_path)
    app = built.app

    assert isinstance(app.transport, Transport)
    assert app.transport.batch_reader is built.batch_path
    assert isinstance(app.tables, BulkRestoringTableManager)
    assert set(app.tables) == {"message_states", "cascade_states"}
    assert set(app.agents) == {"streams.agents.normalize_callbacks", "streams.agents.total_cascades"}
    assert built.batch_path.reads(type("TP", (), {"topic": "callbacks.raw.edna"})())
    assert {
        "/metrics",
        "/status.json",
        "/messages/{provider}/{message_id}",
        "/cascades/{provider}/{cascade_id}",
    } <= routes(app)


def test_two_workers_in_one_process_share_nothing(tmp_path: Path) -> None:
    first = worker(tmp_path / "a", CBSP_TOPIC_PREFIX="one.")
    second = worker(tmp_path / "b", CBSP_TOPIC_PREFIX="two.")

    assert first.app is not second.app
    assert first.app.transport.batch_reader is first.batch_path
    assert second.app.transport.batch_reader is second.batch_path
    assert first.counters.metrics.registry is not second.counters.metrics.registry
    assert first.batch_path.members == "one.state.cascade.members"
    assert second.batch_path.members == "two.state.cascade.members"


def test_bulk_restore_off_leaves_fausts_table_manager(tmp_path: Path) -> None:
    app = worker(tmp_path, CBSP_WORKER_BULK_RESTORE="false").app

    assert type(app.tables) is TableManager


def test_the_patches_take_the_faust_they_were_written_for() -> None:
    assert metadata.version("faust-streaming") == faustpatches.FAUST_VERSION
    faustpatches.check_version()


def test_the_patches_refuse_another_faust_and_say_what_to_do() -> None:
    with pytest.raises(faustpatches.FaustVersionError) as refused:
        faustpatches.check_version("0.16.0")

    message = str(refused.value)
    assert "faust-streaming 0.16.0 is installed" in message
    assert "written for 0.15.3" in message
    assert "faust-streaming==0.15.3" in message

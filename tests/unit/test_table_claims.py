"""Local tables are trusted only after a clean stop: a worker that finds the "in use" marker
of a run that did not stop cleanly discards them (they are rebuilt from the changelogs)."""

from __future__ import annotations

from pathlib import Path

from streams.tableclaims import claim_tables, release_tables


def tables_in(tmp_path: Path) -> Path:
    tabledir = tmp_path / "v1" / "tables"
    (tabledir / "message_states-0.db").mkdir(parents=True)
    return tabledir


def test_tables_of_a_clean_stop_are_kept(tmp_path: Path) -> None:
    tabledir = tables_in(tmp_path)
    assert not claim_tables(tabledir)
    release_tables(tabledir)

    assert not claim_tables(tabledir)
    assert (tabledir / "message_states-0.db").exists()


def test_tables_of_a_run_that_never_released_them_are_discarded(tmp_path: Path) -> None:
    tabledir = tables_in(tmp_path)
    claim_tables(tabledir)  # ... and the worker is killed

    assert claim_tables(tabledir)
    assert not tabledir.exists()


def test_a_first_start_has_nothing_to_discard(tmp_path: Path) -> None:
    assert not claim_tables(tmp_path / "v1" / "tables")
    assert (tmp_path / "v1" / "tables.in-use").exists()

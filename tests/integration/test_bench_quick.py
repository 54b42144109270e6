"""`python -m bench --quick`, the smoke run of the benchmark: every stage runs against the
session's broker and saves its figures, each beside its baseline, and the plots. No figure is
judged here: how fast is the benchmark's to say, never a test's. A figure the run could not
measure says why in its note."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench import report

STAGES = ["ingest", "overload", "stream", "e2e", "recovery"]


def test_the_quick_benchmark_runs_every_stage_and_saves_figures_beside_baselines_and_plots(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(tmp_path), "--note", "test smoke run"],
        env={**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    results = json.loads((tmp_path / "latest.json").read_text())
    assert results["quick"] is True and results["stages"] == STAGES
    assert {figure["stage"] for figure in results["figures"]} == set(STAGES)
    for figure in results["figures"]:
        if figure["baseline"] is None:
            continue
        assert figure["baseline_value"], figure  # measured in the same run
        if figure["value"] is None:  # a figure the run could not measure says why
            assert figure["note"].startswith(f"{report.NOT_MEASURED}: "), figure
        else:
            assert figure["ratio"] is not None, figure
    for stage in ("ingest", "stream", "recovery"):
        assert (tmp_path / f"{stage}.png").stat().st_size > 0
    assert f"saved {tmp_path / 'latest.json'}" in run.stdout

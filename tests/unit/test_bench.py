"""The pure parts of the benchmark: percentiles, ratios and targets, the figures of a results
file, the replay summary parser, the directly written changelog records, and the results
section of docs/benchmarks.md (it must be what the report renders from the saved runs)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from aiokafka.partitioner import DefaultPartitioner

from bench import changelog, report
from bench.e2e import request_rate
from bench.loadgen import percentile
from bench.recovery import replay_numbers, restore_rate, restored
from bench.services import rss_peak_mb
from streams import staterecords
from streams.faustpatches import restore

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "benchmarks.md"


def test_percentile_is_the_nearest_rank_of_the_sorted_values() -> None:
    values = [float(v) for v in range(100, 0, -1)]  # 100 .. 1, unsorted on purpose
    assert percentile(values, 50) == 51.0  # round(0.5 * 99) = 50 -> the 51st smallest
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile(values, 0) == 1.0
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None


def test_ratio_and_targets() -> None:
    assert report.ratio(3.0, 4.0) == 0.75
    assert report.ratio(None, 4.0) is None
    assert report.ratio(3.0, 0.0) is None
    assert report.ratio(3.0, None) is None
    at_least = report.Target(">=", 0.7, "ratio")
    assert at_least.met(1.0, 0.7) is True
    assert at_least.met(1.0, 0.69) is False
    assert at_least.met(1.0, None) is None
    below = report.Target("<", 20)
    assert below.met(19.9, None) is True
    assert below.met(20.0, None) is False
    assert below.text("ms") == "< 20 ms"
    assert at_least.text("requests/s") == "ratio >= 0.7"


def shot(p50: float, p95: float, p99: float, **extra: float) -> dict[str, float]:
    return {"p50_ms": p50, "p95_ms": p95, "p99_ms": p99, **extra}


def results() -> dict[str, Any]:
    return {
        "started_at": "20261126T160000Z",
        "quick": True,
        "stages": ["ingest", "stream", "e2e", "recovery"],
        "note": "",
        "machine": {"cpus": 2, "memory_gib": 23.5, "platform": "Linux", "python": "3.11.7"},
        "ingest": {
            "gateway": {
                "saturation": {"requests_per_s": 800.0, "callbacks_per_s": 1300.0},
                "rates": {"500": shot(4, 9, 18), "200": shot(3, 5, 8)},
                "peak_rss_mb_per_process": 90.0,
            },
            "noop": {
                "saturation": {"requests_per_s": 1000.0},
                "rates": {"500": shot(2, 4, 6), "200": shot(2, 3, 4)},
                "peak_rss_mb_per_process": 45.0,
            },
            "producer_performance": {"records_per_s": 52000.0},
        },
        "stream": {
            "one_worker": {"finished": True, "records_per_s": 3000.0},
            "two_processes": {"finished": False},
            "same_work_loop": {"records_per_s": 4000.0},
            "plain_aiokafka_loop": {"records_per_s": 12000.0},
        },
        "e2e": {
            "callbacks_per_s": 500,
            "background_rate": 300.0,
            "visible_after_200": {"probes": 200, "visible": 200, **shot(40, 90, 300)},
        },
        "recovery": {
            "empty_tables": {"seconds_to_views": 8.0, "peak_rss_mb": 100.0},
            "sizes": {
                "1000000": {
                    "seconds_to_views": 50.0,
                    "seconds_to_sample": 51.0,
                    "peak_rss_mb": 320.0,
                    "restore_records_per_s": 1_000_000 / 42,
                    "plain_read": {"records_per_s": 200_000.0, "seconds": 5.0},
                },
                "100000": {
                    "seconds_to_views": 12.0,
                    "seconds_to_sample": 12.5,
                    "peak_rss_mb": 130.0,
                    "restore_records_per_s": 25_000.0,
                    "plain_read": {"records_per_s": 150_000.0, "seconds": 0.7},
                },
            },
            "replay": {
                "raw_records": 100_000,
                "records_per_s": 11_000.0,
                "plain_aiokafka_loop": {"records_per_s": 22_000.0},
            },
        },
    }


def by_name(figures: list[report.Figure]) -> dict[str, report.Figure]:
    return {f.name: f for f in figures}


def test_each_figure_has_its_baseline_ratio_and_target() -> None:
    figures = by_name(report.figures(results()))
    saturation = figures["gateway at saturation"]
    assert (saturation.value, saturation.baseline_value, saturation.ratio) == (800.0, 1000.0, 0.8)
    assert saturation.met is True
    kafka = figures["gateway at saturation, callbacks"]
    assert kafka.ratio == 1300.0 / 52000.0 and kafka.target is None
    p99 = figures["gateway latency p99 at 500 req/s"]
    assert (p99.value, p99.baseline_value, p99.ratio, p99.met) == (18, 6, 3.0, True)
    assert figures["gateway latency p99 at 200 req/s"].target is None  # the issue sets one at 500 only
    rss = figures["gateway peak RSS per server process, under load"]
    assert (rss.ratio, rss.met) == (2.0, True)
    worker = figures["one worker process draining preloaded callbacks"]
    assert (worker.ratio, worker.met) == (0.75, True)  # against the same work without Faust
    assert figures["one worker process, against the client ceiling"].ratio == 0.25
    assert figures["one worker process, absolute"].met is False
    two = figures["one worker, --processes 2"]
    assert two.value is None and two.note == "not measured: the drain did not finish" and two.ratio is None
    assert figures["200 -> state visible, p99, at 500 callbacks/s"].met is False
    million = figures["fresh worker, 1,000,000 states: views answer"]
    assert (million.ratio, million.met) == (50.0 / 8.0, True)
    assert figures["fresh worker, 100,000 states: views answer"].target is None  # 60 s is for 1M
    assert figures["worker peak RSS holding 1,000,000 states"].met is False
    assert figures["worker peak RSS holding 100,000 states"].ratio == 1.3
    assert figures["cbsp replay of a time range (100,000 raw callbacks)"].ratio == 0.5
    # sizes in increasing order, whatever the order in the file
    names = [f.name for f in report.figures(results()) if f.name.startswith("fresh worker")]
    assert names == [
        "fresh worker, 100,000 states: views answer",
        "fresh worker, 1,000,000 states: views answer",
    ]


def test_the_figures_are_json_and_text() -> None:
    figures = report.figures(results())
    encoded = json.loads(json.dumps([f.as_json() for f in figures]))
    assert encoded[0]["ratio"] == 0.8 and encoded[0]["met"] is True
    assert encoded[0]["target"] == {"op": ">=", "bound": 0.7, "of": "ratio"}
    text = report.lines(results())
    assert len(text) == len(figures)
    assert text[0] == (
        "[ingest] gateway at saturation: 800 requests/s | no-op endpoint, same server: 1,000 "
        "-> ratio 0.80 | target ratio >= 0.7: met"
    )


def test_a_stage_left_out_gives_no_figures() -> None:
    only_e2e = {key: value for key, value in results().items() if key not in ("ingest", "stream", "recovery")}
    assert {f.stage for f in report.figures(only_e2e)} == {"e2e"}


def test_the_latest_run_of_each_stage_is_shown() -> None:
    full = results()
    newer = {**results(), "started_at": "20261126T170000Z", "stages": ["e2e", "stream"]}
    del newer["ingest"], newer["recovery"]
    newer["e2e"] = {**full["e2e"], "callbacks_per_s": 400}
    shown = report.latest_stages([full, newer])
    assert [run["stages"] for run in shown] == [["e2e", "stream"], ["ingest", "recovery"]]
    assert shown[0]["e2e"]["callbacks_per_s"] == 400
    assert "e2e" not in shown[1] and "stream" not in shown[1] and shown[1]["machine"] == full["machine"]
    assert report.latest_stages([newer, {**newer, "started_at": "20261126T160000Z"}]) == [newer]
    markdown = report.markdown([full, newer])
    assert markdown.count("| e2e |") == 3 and "at 400 callbacks/s" in markdown
    assert "at 500 callbacks/s" not in markdown


def test_the_e2e_background_makes_500_callbacks_per_second_with_the_probes() -> None:
    # the mix carries 8 callbacks in 5 requests (a batch of 3, a bundle of 2, three single ones)
    assert request_rate(500, 20) == 300.0


def test_rss_of_a_process() -> None:
    peak, now = rss_peak_mb(os.getpid()), rss_peak_mb(os.getpid(), "VmRSS")
    assert 0 < now <= peak


def test_replay_summary_line() -> None:
    line = (
        "replay done: 100000 records read, 100000 sent, 120000 events emitted, 0 duplicates "
        "skipped, 0 to the DLQ (8.6s, 11655 records/s)"
    )
    assert replay_numbers(line) == (100000, 8.6, 11655.0)


def test_the_restore_is_read_from_the_worker_log(tmp_path: Path) -> None:
    log = tmp_path / "recover.log"
    log.write_text(
        "[2026-11-26 22:05:40,129] [878] [INFO] restoring tables: 408555 of 1000000 changelog records \n"
        "[2026-11-26 22:05:51,821] [1124] [INFO] tables restored from the changelogs records=1000000 "
        "partitions=8 seconds=8.8 rate=113136/s \n"
        "[2026-11-26 22:06:01,000] [1124] [INFO] tables restored from the changelogs records=20 "
        "partitions=1 seconds=0.2 rate=100/s \n"
    )
    assert restored(log) == (1_000_020, 9.0)
    log.write_text("[2026-11-26 22:05:51,821] [1124] [INFO] Worker ready\n")
    assert restored(log) is None
    assert restored(tmp_path / "absent.log") is None


def test_a_restore_of_a_few_dozen_milliseconds_has_its_rate(tmp_path: Path) -> None:
    # 5,000 states (the quick run's changelog) were read in 46 ms: the worker logged
    # "seconds=0.0 rate=108707/s" (to a tenth of a second), so the benchmark divided by 0 and
    # saved no restore rate; it logs to the millisecond now
    log = tmp_path / "recover.log"
    line = restore.RESTORED % (5000, 8, 0.046, 5000 / 0.046)
    log.write_text(f"[2026-12-03 14:44:15,630] [5045] [INFO] {line} \n")
    assert restored(log) == (5000, 0.046)
    rate, note = restore_rate(restored(log), 5000, -0.3)  # (a start no slower than an empty worker's)
    assert rate == 5000 / 0.046 and note == ""


def test_a_restore_rate_the_run_cannot_give_says_why() -> None:
    too_short = restore_rate((5000, 0.0), 5000, 2.0)
    assert too_short == (None, "not measured: the worker logged 5,000 records restored in 0.000 s")
    assert restore_rate((0, 0.2), 5000, 2.0)[0] is None
    no_log_no_difference = restore_rate(None, 5000, -0.3)
    assert no_log_no_difference[0] is None
    assert no_log_no_difference[1].startswith(f"{report.NOT_MEASURED}: the worker logged no restore")
    # measured, and the note says how
    assert restore_rate(None, 5000, 2.0) == (2500.0, "from start times: the worker logged no restore")
    assert restore_rate((4000, 0.1), 5000, 2.0) == (
        40000.0,
        "bulk restore of 4,000 of 5,000 records, Faust's loop read the rest",
    )
    # and the figure carries the note
    run = results()
    run["recovery"]["sizes"]["100000"] |= {"restore_records_per_s": None, "restore_note": too_short[1]}
    figure = by_name(report.figures(run))["restore rate, 100,000 states"]
    assert (figure.value, figure.ratio, figure.note) == (None, None, too_short[1])


def test_changelog_partition_is_the_default_partitioners() -> None:
    partitioner = DefaultPartitioner()
    for key, _ in changelog.states_of(0, 50):
        assert changelog.partition_of(key, 8) == partitioner(key, list(range(8)), list(range(8)))


def test_changelog_states_are_distinct_table_values_of_every_provider() -> None:
    found = changelog.states_of(0, 100)
    keys = [key for key, _ in found]
    assert len(keys) == len(set(keys)) == 120  # 6 messages every 5 requests of the mix
    assert {key.split(b":")[0] for key in keys} == {b"revicom", b"fortytwo", b"edna", b"recessmobile"}
    for key, value in found:
        held = staterecords.from_json(value)
        assert held.message_key.encode() == key
        assert staterecords.to_json(held) == value  # the table's own encoding, byte for byte
    assert changelog.states_of(40, 60) == found[48:72]  # a piece is the same whoever makes it


def test_the_parallel_states_are_the_sequence() -> None:
    assert list(changelog.states(150, processes=2)) == changelog.states_of(0, 125)


def test_the_results_section_of_the_page_is_rendered_from_the_saved_runs() -> None:
    runs = json.loads((PAGE.parent / report.DOC_RESULTS).read_text())
    assert report.documented_section(PAGE.read_text()) == report.markdown(runs), (
        "docs/benchmarks.md is not what `python -m bench.report --update-docs` writes from "
        "docs/benchmark-results.json"
    )


def test_a_drain_rate_runs_from_commit_to_commit() -> None:
    from bench.stream import _commits

    samples = [(0.0, 0), (0.5, 0), (1.0, 100), (1.5, 100), (2.0, 100), (2.5, 300), (3.0, 300)]
    assert _commits(samples) == [(1.0, 100), (2.5, 300)]  # when each total was first seen

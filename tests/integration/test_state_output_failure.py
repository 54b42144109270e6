"""A record the worker cannot hand to Kafka is not the input's fault: the worker exits at once
(status 75) instead of dead-lettering the callback or committing past it, and after a restart
the callback is processed like any other.

The worker runs with ``failing_output`` on its path, which makes the producer refuse one state
record the way aiokafka refuses a send whose transaction is gone.
"""

from __future__ import annotations

import time
from pathlib import Path

from streams.faustpatches.transport import EXIT_OUTPUT_FAILED
from tests.integration.groundtruth import answers_as_expected, expected_views, histories
from tests.integration.pipeline import Pipeline

FAILING = str(Path(__file__).parent / "failing_output")


def wait_exit(pipeline: Pipeline, name: str, timeout_s: float = 60) -> int:
    deadline = time.monotonic() + timeout_s
    while (code := pipeline.process(name).poll()) is None:
        assert time.monotonic() < deadline, f"{name} is still running:\n{pipeline.log_tail(name)}"
        time.sleep(0.2)
    return code


def test_a_record_kafka_refuses_stops_the_worker_and_is_processed_after_a_restart(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    pipeline = Pipeline(kafka_bootstrap, tmp_path)
    flag = tmp_path / "refuse-once"
    flag.touch()
    env = {"PYTHONPATH": FAILING, "CBSP_TEST_FAIL_ONCE_FILE": str(flag)}
    try:
        pipeline.start_worker("w", **env)
        pipeline.start_gateway()
        callbacks = histories(12, seed=7)
        pipeline.post_all(callbacks)

        assert wait_exit(pipeline, "w") == EXIT_OUTPUT_FAILED
        assert not flag.exists()
        log = pipeline.log_tail("w", 2000)
        assert "a record could not be handed to Kafka, exiting before anything more is committed" in log
        assert "IllegalOperation: Can't send messages while not in transaction" in log
        assert "dead-lettered" not in log

        pipeline.worker_urls.clear()
        pipeline.start_worker("w", **env)
        answers_as_expected(pipeline.worker_urls, expected_views(callbacks))
        pipeline.wait_caught_up()
        dead_letters = pipeline.consume([pipeline.topics.dlq], count=1, timeout_s=5)
        assert dead_letters == []
        assert "tables of an unclean stop discarded" in pipeline.log_tail("w", 4000)
    finally:
        pipeline.stop()

"""`cbsp replay`: a dry run says what it would do; dead letters of a normalizer bug end right
after the fix; replaying what was processed already changes nothing."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import IO

from aiokafka import AIOKafkaProducer

from tests.integration.pipeline import Pipeline

BUGGY = str(Path(__file__).parent / "buggy_normalizer")


def cbsp(pipeline: Pipeline, *args: str) -> subprocess.CompletedProcess[str]:
    return pipeline.cbsp(*args)


def statuses(message_uuid: str) -> bytes:
    common = {"message_uuid": message_uuid, "channel_type": "SMS"}
    return json.dumps(
        [
            {**common, "callback_event": "sent", "status": "sent", "status_time": "2024-06-01T10:00:00Z"},
            {
                **common,
                "callback_event": "delivered",
                "status": "delivered",
                "status_time": "2024-06-01T10:00:05Z",
            },
        ]
    ).encode()


def test_dead_letters_of_a_normalizer_bug_end_right_after_the_fix(fresh_pipeline: Pipeline) -> None:
    pipeline = fresh_pipeline
    pipeline.start_worker("buggy-worker", PYTHONPATH=BUGGY)
    pipeline.start_gateway()
    messages = [str(uuid.uuid4()) for _ in range(3)]
    for message_uuid in messages:
        assert pipeline.post("revicom", statuses(message_uuid), "application/json").status_code == 200
    keys = {f"revicom:{m}".encode() for m in messages}
    assert len(pipeline.consume([pipeline.topics.dlq], keys=keys, count=3)) == 3
    for message_uuid in messages:
        assert (
            pipeline.wait_view("revicom", message_uuid, lambda s: s["status"] is not None)["status"]["status"]
            == "SENT"
        )
    pipeline.stop()  # deploy the fix: the same app, without the bug
    pipeline.worker_urls.clear()
    pipeline.start_worker("fixed-worker")

    dry = cbsp(pipeline, "replay", "--from", "dlq", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "total: 3 records" in dry.stdout
    result = cbsp(pipeline, "replay", "--from", "dlq", "--no-progress")

    assert result.returncode == 0, result.stderr
    assert "3 records read, 3 sent, 3 events emitted, 0 duplicates skipped, 0 to the DLQ" in result.stdout
    for message_uuid in messages:
        state = pipeline.wait_view("revicom", message_uuid, lambda s: s["status"]["status"] == "DELIVERED")
        assert state["status"]["at"] == "2024-06-01T10:00:05.000Z"
    events = pipeline.consume([pipeline.topics.event("status")], keys=keys, count=6)
    assert len(events) == 6  # the sents, then the delivereds emitted by the replay


def test_replay_dry_run_lists_partitions_and_replaying_twice_changes_nothing(pipeline: Pipeline) -> None:
    messages = [str(uuid.uuid4()) for _ in range(5)]
    for message_uuid in messages:
        assert pipeline.post("revicom", statuses(message_uuid), "application/json").status_code == 200
    before = {
        m: pipeline.wait_view("revicom", m, lambda s: s["status"]["status"] == "DELIVERED") for m in messages
    }

    dry = cbsp(pipeline, "replay", "--provider", "revicom", "--since", "10m", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"{pipeline.topics.raw('revicom')} [" in dry.stdout
    total = int(dry.stdout.split("total: ")[1].split(" records")[0])
    assert total >= 10
    first = cbsp(pipeline, "replay", "--provider", "revicom", "--since", "10m", "--no-progress")
    second = cbsp(pipeline, "replay", "--provider", "revicom", "--since", "10m", "--no-progress")

    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert f"{total} records read, {total} sent" in first.stdout
    keys = {f"revicom:{m}".encode() for m in messages}
    replayed = pipeline.consume([pipeline.topics.replay], keys=keys, count=20)
    assert len(replayed) == 20  # both replays went through callbacks.replay
    assert all(r.headers["source_topic"] == pipeline.topics.raw("revicom").encode() for r in replayed)
    pipeline.wait_caught_up(topic=pipeline.topics.replay)  # both replays processed and committed
    events = pipeline.consume([pipeline.topics.event("status")], keys=keys, count=11, timeout_s=10)
    assert len(events) == 10  # each event once: a replay of what the states hold emits nothing
    assert {m: pipeline.view("revicom", m).json() for m in messages} == before


def test_replay_refuses_a_time_it_cannot_read(pipeline: Pipeline) -> None:
    result = cbsp(pipeline, "replay", "--since", "last tuesday")

    assert result.returncode == 2
    assert "neither an RFC 3339 time" in result.stderr


def test_refused_requests_are_split_again_and_written_raw_when_they_now_pass(pipeline: Pipeline) -> None:
    message_uuid = str(uuid.uuid4())
    now_valid = statuses(message_uuid)  # as if refused by a gateway bug of the time
    still_invalid = json.dumps([{"callback_event": "sent"}]).encode()
    marker = uuid.uuid4().hex
    headers = [
        ("provider", b"revicom"),
        ("received_at", b"2024-06-01T10:00:06.000Z"),
        ("source_ip", b"127.0.0.1"),
        ("kind", b"rejected"),
        ("error", b"simulated"),
        ("content_type", b"application/json"),
    ]
    records = [
        (f"{marker}-{i}".encode(), body, [*headers, ("request_id", f"{marker}-{i}".encode())])
        for i, body in enumerate([now_valid, still_invalid])
    ]
    asyncio.run(produce(pipeline.bootstrap, pipeline.topics.rejected, records))

    result = cbsp(pipeline, "replay", "--from", "rejected", "--since", "5m", "--no-progress")

    assert result.returncode == 0, result.stderr
    assert "1 still refused" in result.stdout
    raws = pipeline.consume(
        [pipeline.topics.raw("revicom")], keys={f"revicom:{message_uuid}".encode()}, count=2
    )
    assert len(raws) == 2
    assert all(r.headers["replayed_from"].startswith(pipeline.topics.rejected.encode()) for r in raws)
    assert {r.headers["request_id"] for r in raws} == {f"{marker}-0".encode()}
    state = pipeline.wait_view("revicom", message_uuid, lambda s: s["status"]["status"] == "DELIVERED")
    assert state["status"]["at"] == "2024-06-01T10:00:05.000Z"


def sent_some(progress: IO[str], total: int) -> None:
    """Read the replay's progress bar (tqdm on stderr) until it counts a record sent."""
    shown = ""
    while True:
        char = progress.read(1)
        assert char, f"the replay ended before its progress showed a record sent: {shown!r}"
        shown = (shown + char)[-200:]
        counts = re.findall(rf"(\d+)/{total}", shown)
        if counts and int(counts[-1]) > 0:
            return


def test_ctrl_c_stops_a_replay_and_the_printed_command_resumes_it(pipeline: Pipeline) -> None:
    marker = uuid.uuid4().hex
    headers = [("provider", b"fortytwo"), ("kind", b"status"), ("received_at", b"2024-06-01T10:00:00.000Z")]
    body = {"message_id": "", "status": "DELIVRD", "micro_timestamp": 1717236000000, "type": "SMS"}
    records = [
        (
            f"fortytwo:{marker}-{i}".encode(),
            json.dumps({**body, "message_id": f"{marker}-{i}"}).encode(),
            headers,
        )
        for i in range(30_000)
    ]
    asyncio.run(produce(pipeline.bootstrap, pipeline.topics.raw("fortytwo"), records))
    command = [
        sys.executable,
        "-m",
        "cbsp",
        "replay",
        "--provider",
        "fortytwo",
        "--since",
        "5m",
    ]

    with subprocess.Popen(
        command, env=pipeline.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        assert process.stdout.readline().startswith("replay from raw")
        sent_some(process.stderr, 30_000)  # the progress bar shows records sent: stop it there
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)

    assert "interrupted:" in output, output
    resume = output.split("to resume: ")[1].strip()
    read_before = int(output.split("interrupted: ")[1].split(" records read")[0])
    assert 0 < read_before < 30_000
    rest = subprocess.run(
        ["bash", "-c", resume.replace("cbsp ", f"{sys.executable} -m cbsp ", 1) + " --no-progress"],
        env=pipeline.env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert rest.returncode == 0, rest.stderr
    read_after = int(rest.stdout.split("replay done: ")[1].split(" records read")[0])
    assert read_before + read_after == 30_000


async def produce(
    bootstrap: str, topic: str, records: list[tuple[bytes, bytes, list[tuple[str, bytes]]]]
) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=20
    )
    await producer.start()
    try:
        acks = [
            await producer.send(topic, value=value, key=key, headers=headers)
            for key, value, headers in records
        ]
        await asyncio.gather(*acks)
    finally:
        await producer.stop()

"""The consumer's toolbox: `cbsp tail` prints decoded records, `cbsp schemas` writes the .avsc files
that a plain fastavro consumer needs."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import uuid
from pathlib import Path

from fastavro import schemaless_reader
from fastavro.schema import load_schema

from tests.integration.pipeline import Pipeline


def cbsp(pipeline: Pipeline, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cbsp", *args], env=pipeline.env(), capture_output=True, text=True, timeout=60
    )


def post_delivered(pipeline: Pipeline) -> str:
    message_uuid = str(uuid.uuid4())
    body = [
        {
            "message_uuid": message_uuid,
            "channel_type": "VIBER",
            "callback_event": "delivered",
            "status": "delivered",
            "status_time": "2024-05-01T08:00:00+03:00",
        }
    ]
    assert pipeline.post("revicom", json.dumps(body).encode(), "application/json").status_code == 200
    # the worker writes in transactions: wait until the event is committed (read_committed sees it)
    key = f"revicom:{message_uuid}".encode()
    assert pipeline.consume([pipeline.topics.event("status")], keys={key}, count=1)
    return message_uuid


def test_tail_prints_a_decoded_event_as_a_json_line(pipeline: Pipeline) -> None:
    message_uuid = post_delivered(pipeline)

    result = cbsp(
        pipeline, "tail", "events.status.v1", "--from-beginning", "--key", f"revicom:{message_uuid}"
    )

    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    printed = json.loads(line)
    assert printed["topic"] == pipeline.topics.event("status")
    assert printed["schema"] == "cbsp.MessageStatusEvent"
    assert printed["value"]["status"] == "DELIVERED"
    assert printed["value"]["occurred_at"] == "2024-05-01T05:00:00.000Z"
    assert printed["headers"]["content-type"] == "application/vnd.apache.avro+binary"


def test_tail_prints_raw_records_with_their_headers(pipeline: Pipeline) -> None:
    message_uuid = post_delivered(pipeline)

    result = cbsp(
        pipeline, "tail", "callbacks.raw.revicom", "--from-beginning", "--key", f"revicom:{message_uuid}"
    )

    (line,) = result.stdout.splitlines()
    printed = json.loads(line)
    assert printed["value"]["message_uuid"] == message_uuid
    assert printed["headers"]["provider"] == "revicom"
    assert printed["headers"]["kind"] == "status"


def test_tail_names_a_missing_topic(pipeline: Pipeline) -> None:
    result = cbsp(pipeline, "tail", "events.nothing.v1")

    assert result.returncode == 2
    assert "no topic" in result.stderr and "events.nothing.v1" in result.stderr


def test_schemas_written_out_decode_an_event_without_the_package(pipeline: Pipeline, tmp_path: Path) -> None:
    message_uuid = post_delivered(pipeline)
    written = cbsp(pipeline, "schemas", str(tmp_path))
    assert written.returncode == 0, written.stderr
    (event,) = pipeline.consume(
        [pipeline.topics.event("status")], keys={f"revicom:{message_uuid}".encode()}, count=1
    )

    # what another service does with the files alone: skip the 10-byte header, read the body
    parsed = load_schema(str(tmp_path / f"{event.headers['schema'].decode()}.avsc"))
    record = schemaless_reader(io.BytesIO((event.value or b"")[10:]), parsed, None)

    assert record["provider_message_id"] == message_uuid
    assert record["channel"] == "VIBER"

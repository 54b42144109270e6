"""A steady load of provider callbacks on a gateway, from a thread, that records what the
gateway acknowledged: each request is posted until it gets a 200, as a provider retries a
503 (or a connection error), and every 200 is kept with its request id and callbacks."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import requests

from tests.integration.pipeline import ConsumedRecord, Pipeline


@dataclass(frozen=True)
class Acknowledged:
    """A request the gateway answered 200: its id (the raw records' ``request_id`` header)
    and the callbacks it carried."""

    request_id: str
    callbacks: list[dict[str, Any]]


@dataclass
class CallbackLoad:
    """Posts ``batches`` to the pipeline's gateway one after another, ``pause_s`` apart."""

    pipeline: Pipeline
    batches: list[list[dict[str, Any]]]
    pause_s: float = 0.05
    give_up_s: float = 120.0  # per batch: then the load stops and ``failure`` says why
    acknowledged: list[Acknowledged] = field(default_factory=list)
    refusals: Counter[str] = field(default_factory=Counter)  # "503", "ConnectionError", ...
    stop_on_refusal: bool = False  # stop at the first refusal instead of retrying like a provider
    last_refusal: tuple[int, Any] | None = None  # (status, JSON body) of the last non-200
    failure: str = ""
    _thread: threading.Thread | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="callback-load", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 60) -> None:
        """Stop posting (a request in progress finishes) and wait for the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def join(self, timeout_s: float) -> None:
        assert self._thread is not None
        self._thread.join(timeout_s)
        assert not self._thread.is_alive(), f"the load did not finish in {timeout_s}s"
        assert not self.failure, self.failure

    def wait_acknowledged(self, count: int, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.acknowledged) < count:
            assert time.monotonic() < deadline, f"only {len(self.acknowledged)} of {count} acknowledged"
            assert not self.failure, self.failure
            time.sleep(0.05)

    def callbacks(self, since: int = 0) -> list[dict[str, Any]]:
        """The acknowledged callbacks, in the order they were acknowledged (from request ``since``)."""
        return [callback for ack in self.acknowledged[since:] for callback in ack.callbacks]

    def _run(self) -> None:
        for batch in self.batches:
            if not self._post_until_acknowledged(batch) or self._stop.wait(self.pause_s):
                return

    def _post_until_acknowledged(self, batch: list[dict[str, Any]]) -> bool:
        deadline = time.monotonic() + self.give_up_s
        body = json.dumps(batch).encode()
        while time.monotonic() < deadline and not self._stop.is_set():
            try:
                response = self.pipeline.post("revicom", body, "application/json")
            except requests.RequestException as exc:
                self.refusals[type(exc).__name__] += 1
                self._stop.wait(0.2)
                continue
            if response.status_code == 200:
                self.acknowledged.append(Acknowledged(response.headers["X-Request-Id"], batch))
                return True
            self.refusals[str(response.status_code)] += 1
            self.last_refusal = (response.status_code, response.json())
            if response.status_code != 503:
                self.failure = f"the gateway answered {response.status_code}: {response.text}"
                return False
            if self.stop_on_refusal:
                return False
            self._stop.wait(min(1.0, float(response.headers.get("Retry-After", "1"))))
        if self._stop.is_set():
            return False
        self.failure = f"a batch was not acknowledged within {self.give_up_s}s: {dict(self.refusals)}"
        return False


def batched(callbacks: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [callbacks[start : start + size] for start in range(0, len(callbacks), size)]


def identity(request_id: str | bytes, callback: dict[str, Any]) -> tuple[str, str]:
    """What names one acknowledged callback: its request and its content."""
    rid = request_id.decode() if isinstance(request_id, bytes) else request_id
    return rid, json.dumps(callback, sort_keys=True)


def missing_from_raw(pipeline: Pipeline, acknowledged: list[Acknowledged]) -> list[tuple[str, str]]:
    """The acknowledged callbacks that are not on the raw topic (read committed), by identity."""
    wanted = Counter(identity(ack.request_id, c) for ack in acknowledged for c in ack.callbacks)
    request_ids = {ack.request_id.encode() for ack in acknowledged}

    def acknowledged_request(record: ConsumedRecord) -> bool:
        return record.headers.get("request_id") in request_ids

    records = pipeline.consume(
        [pipeline.topics.raw("revicom")],
        match=acknowledged_request,
        count=sum(wanted.values()),
        timeout_s=60,
    )
    found = Counter(identity(r.headers["request_id"], json.loads(r.value or b"")) for r in records)
    return sorted((wanted - found).elements())

"""Table-driven: every sample in tests/data/ splits and normalizes to exactly what the case says."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.bodies import decode_body
from gateway.errors import GatewayError
from gateway.providers import REGISTRY as GATEWAY_PROVIDERS
from gateway.providers import Callback
from streams import codecs
from streams.canonical import RawCallback, SourceRef
from streams.errors import NormalizeError
from streams.normalize import normalize
from tests.cases import Case, comparable, load_cases, plain

CASES = load_cases()
RECEIVED_AT = datetime(2026, 1, 1, tzinfo=UTC)


def split(case: Case) -> list[Callback]:
    provider = GATEWAY_PROVIDERS[case.provider]
    mimetype, _, params = case.content_type.partition(";")
    charset = params.partition("charset=")[2].strip() or None
    body = decode_body(case.body_bytes(), mimetype.strip(), charset, provider.content_types, case.provider)
    return provider.split(body)


def to_raw(callback: Callback, offset: int) -> RawCallback:
    source = SourceRef(f"callbacks.raw.{callback.provider}", 0, offset)
    return RawCallback(
        callback.provider, callback.kind, callback.message_key, callback.payload, RECEIVED_AT, source
    )


def test_there_are_cases_for_every_registered_provider() -> None:
    assert {case.provider for case in CASES} == set(GATEWAY_PROVIDERS)


@pytest.mark.parametrize("case", [c for c in CASES if "rejected" in c.spec], ids=lambda c: c.id)
def test_gateway_refuses_what_is_not_the_providers_shape(case: Case) -> None:
    with pytest.raises(GatewayError) as refused:
        split(case)
    assert refused.value.status == 400
    assert case.spec["rejected"]["path"] in refused.value.detail


@pytest.mark.parametrize("case", [c for c in CASES if "callbacks" in c.spec], ids=lambda c: c.id)
def test_gateway_splits_and_keys_callbacks(case: Case) -> None:
    got = [{"kind": c.kind, "message_key": c.message_key} for c in split(case)]
    assert got == case.spec["callbacks"]


@pytest.mark.parametrize("case", [c for c in CASES if "events" in c.spec], ids=lambda c: c.id)
def test_normalizer_emits_the_canonical_events(case: Case) -> None:
    dead = case.spec.get("dead_letter", {}).get("index")
    events = [
        event
        for offset, callback in enumerate(split(case))
        if offset != dead
        for event in normalize(to_raw(callback, offset))
    ]
    assert [{"kind": e.kind, "record": comparable(dict(e.record))} for e in events] == case.spec["events"]
    for event in events:  # and every event fits its Avro schema, both ways
        assert plain(codecs.decode_message(codecs.encode(event.schema, event.record))) == plain(
            dict(event.record)
        )


@pytest.mark.parametrize("case", [c for c in CASES if "dead_letter" in c.spec], ids=lambda c: c.id)
def test_normalizer_refuses_bad_records_naming_the_field(case: Case) -> None:
    callback = split(case)[case.spec["dead_letter"]["index"]]
    with pytest.raises(NormalizeError) as refused:
        normalize(to_raw(callback, 0))
    assert refused.value.path == case.spec["dead_letter"]["path"]

"""The batch computation (``streams.batches.process``) against the one-event-at-a-time reference:
the same states whatever the batch size and order, each event emitted once, one state per key
per batch, and a bad record dead-lettered alone."""

from __future__ import annotations

import random
from typing import NamedTuple

from bench.preload import mixed
from schemas.topicnames import TopicNames
from streams import codecs, state, staterecords
from streams.batches import BatchResult, outputs, process
from streams.canonical import NormalizeOptions
from streams.normalize import normalize
from streams.raw import decode_raw, source_of

OPTIONS = NormalizeOptions()


class Record(NamedTuple):
    topic: str
    partition: int
    offset: int
    timestamp: int | None
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


def records(count: int, seed: int = 7) -> list[Record]:
    return [
        Record(topic, 0, offset, 1_700_000_000_000 + offset, key, value, headers)
        for offset, (topic, key, value, headers) in enumerate(mixed(count, TopicNames("unit."), seed))
    ]


def run(batches: list[list[Record]]) -> tuple[dict[bytes, bytes], list[BatchResult]]:
    """Process ``batches`` in turn over one table, as the worker does."""
    table: dict[bytes, bytes] = {}
    results = []
    for batch in batches:
        result = process(batch, table.get, OPTIONS)
        table.update((change.key, change.table_value) for change in result.states)
        results.append(result)
    return table, results


def reference(all_records: list[Record]) -> tuple[dict[bytes, bytes], set[str]]:
    """One event at a time, with the merge rules alone: the final states and the distinct event ids."""
    states: dict[bytes, state.MessageState] = {}
    ids = set()
    for record in all_records:
        source = source_of(dict(record.headers), record.topic, record.partition, record.offset)
        raw = decode_raw(record.key, record.value, record.headers, source)
        for event in normalize(raw, OPTIONS):
            ids.add(event.event_id)
            new = state.apply(states.get(record.key), event)
            if new is not None:
                states[record.key] = new
    return {key: staterecords.to_json(value) for key, value in states.items()}, ids


def in_batches(items: list[Record], size: int) -> list[list[Record]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def emitted_ids(results: list[BatchResult]) -> list[str]:
    return [new.event.event_id for result in results for new in result.events]


def test_the_states_are_the_references_whatever_the_batch_size_and_order() -> None:
    taken = records(3_000)
    expected_states, expected_ids = reference(taken)
    shuffled = taken[:]
    random.Random(3).shuffle(shuffled)
    for batches in (in_batches(taken, 1), in_batches(taken, 250), [taken], in_batches(shuffled, 700)):
        table, results = run(batches)
        assert table == expected_states
        ids = emitted_ids(results)
        assert sorted(ids) == sorted(expected_ids)  # every event once, a retry never
        assert not any(result.dead_letters for result in results)


def test_the_input_has_provider_retries_and_all_four_providers() -> None:
    taken = records(3_000)
    assert len({(r.key, r.value) for r in taken}) < len(taken)
    assert {dict(r.headers)["provider"] for r in taken} == {b"revicom", b"recessmobile", b"fortytwo", b"edna"}


def test_a_key_changed_by_many_events_of_a_batch_gets_one_state() -> None:
    taken = records(3_000)
    _, results = run([taken])
    (result,) = results
    keys = [change.key for change in result.states]
    assert len(keys) == len(set(keys))
    assert len(result.events) > len(result.states)  # several events of a message, one state


def test_a_retried_callback_emits_nothing_in_its_batch_or_a_later_one() -> None:
    first = records(50)[0]
    _, results = run([[first, first._replace(offset=1)], [first._replace(offset=2)]])
    events_in_first = len(results[0].events)
    assert events_in_first >= 1
    assert len(results[0].duplicates) == events_in_first
    assert results[1].events == [] and results[1].states == []
    assert len(results[1].duplicates) == events_in_first


def test_a_bad_record_is_dead_lettered_alone_and_the_rest_of_its_batch_goes_on() -> None:
    good = records(200)
    bad = good[10]._replace(value=b"{not json")
    wrong_key = good[20]._replace(key=b"revicom:someone-else", value=good[20].value)
    batch = [*good[:10], bad, *good[11:20], wrong_key, *good[21:]]
    _, (result,) = run([batch])
    letters = {letter.source.offset: letter for letter in result.dead_letters}
    assert set(letters) == {10, 20}
    assert letters[10].reason.startswith("NormalizeError: value: not JSON")
    assert "is not the record key" in letters[20].reason
    assert letters[10].value == b"{not json" and letters[10].key == bad.key
    expected_states, _ = reference([*good[:10], *good[11:20], *good[21:]])
    table, _ = run([batch])
    assert table == expected_states


def test_unhandled_kinds_and_callbacks_are_counted() -> None:
    taken = records(500)
    _, (result,) = run([taken])
    assert len(result.callbacks) == len(taken)
    assert {callback.provider for callback in result.callbacks} == {
        "revicom",
        "recessmobile",
        "fortytwo",
        "edna",
    }


def test_the_wire_format_frames_the_public_topics_and_leaves_the_cascade_members_self_describing() -> None:
    topics = TopicNames("unit.")
    result = process(records(400), {}.get, OPTIONS)
    ids = {name: 100 + n for n, name in enumerate(sorted(codecs.schema_set().by_name))}
    wire = codecs.WireFormat(ids)

    single = list(outputs(result, topics, "changelog", 0))
    framed = list(outputs(result, topics, "changelog", 0, wire))

    assert len(single) == len(framed) and any(o.topic == topics.cascade_members for o in framed)
    for plain, output in zip(single, framed, strict=True):
        if output.topic in (topics.cascade_members, "changelog"):
            assert output == plain
            continue
        headers = dict(output.headers or [])
        schema_id = ids[headers["schema"].decode()]
        assert output.value == b"\x00" + schema_id.to_bytes(4, "big") + plain.value[10:]
        assert headers["schema-id"] == str(schema_id).encode()
        assert headers["schema-fingerprint"] == dict(plain.headers or [])["schema-fingerprint"]
        assert codecs.decode_message(output.value, output.headers or []) == codecs.decode_message(plain.value)

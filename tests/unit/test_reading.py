"""Where the batch path stands in each partition (``streams.reading``): skip what was processed,
read again what is missing, pass what the log no longer has."""

from __future__ import annotations

from typing import NamedTuple

from streams.reading import Reading

RAW = "callbacks.raw.revicom"
MEMBERS = "state.cascade.members"


class TP(NamedTuple):
    topic: str
    partition: int


class Record(NamedTuple):
    offset: int


def fetched(*offsets: int) -> list[Record]:
    return [Record(offset) for offset in offsets]


def reading_at(tp: TP, committed: int | None) -> Reading:
    reading = Reading({RAW})
    reading.start([tp], {tp: committed})
    return reading


def offsets(records: list[Record]) -> list[int]:
    return [record.offset for record in records]


def test_a_whole_batch_from_the_committed_offset_is_processed() -> None:
    tp = TP(RAW, 0)
    reading = reading_at(tp, 10)
    run = reading.next_run(tp, fetched(10, 11, 12))
    assert (offsets(run.records), run.read_again_from, run.gone) == ([10, 11, 12], None, None)
    reading.processed(tp, 12)
    assert reading.next_offsets[tp] == 13


def test_records_processed_already_are_skipped() -> None:
    tp = TP(RAW, 0)
    reading = reading_at(tp, 10)
    reading.processed(tp, 14)
    assert offsets(reading.next_run(tp, fetched(12, 13, 14, 15, 16)).records) == [15, 16]
    assert reading.next_run(tp, fetched(11, 12)).records == []


def test_records_missing_at_the_start_are_read_again_then_passed_if_gone() -> None:
    tp = TP(RAW, 0)
    reading = reading_at(tp, 0)
    first = reading.next_run(tp, fetched(3, 4))
    assert (first.records, first.read_again_from) == ([], 0)
    again = reading.next_run(tp, fetched(3, 4))  # still not there: retention took them
    assert (offsets(again.records), again.read_again_from, again.gone) == ([3, 4], None, (0, 2))


def test_a_hole_inside_a_batch_stops_the_run_there_and_is_read_again() -> None:
    tp = TP(RAW, 0)
    reading = reading_at(tp, 5)
    run = reading.next_run(tp, fetched(5, 6, 8, 9))
    assert (offsets(run.records), run.read_again_from) == ([5, 6], 7)
    reading.processed(tp, 6)
    assert offsets(reading.next_run(tp, fetched(7, 8, 9)).records) == [7, 8, 9]


def test_holes_in_a_topic_written_in_transactions_are_markers() -> None:
    tp = TP(MEMBERS, 0)
    reading = reading_at(tp, 0)
    run = reading.next_run(tp, fetched(1, 2, 4, 5))
    assert (offsets(run.records), run.read_again_from) == ([1, 2, 4, 5], None)


def test_a_partition_without_a_committed_offset_starts_at_what_comes() -> None:
    tp = TP(RAW, 0)
    reading = reading_at(tp, None)
    assert offsets(reading.next_run(tp, fetched(40, 41)).records) == [40, 41]


def test_a_seek_back_within_an_assignment_keeps_the_processed_offset_and_a_revocation_forgets() -> None:
    tp = TP(RAW, 0)
    reading = reading_at(tp, 10)
    reading.processed(tp, 20)
    reading.start([tp], {tp: 10})  # the same assignment, sought back to the committed offset
    assert reading.next_offsets[tp] == 21
    reading.forget()
    assert not reading.reads(tp)
    reading.start([tp], {tp: 15})
    assert reading.next_offsets[tp] == 15

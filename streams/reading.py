"""Where each partition the batch path reads stands: the next offset to process, and which
fetched records to process now.

A fetched batch is processed whole or not at all, so the next offset of a partition is the one
after its last processed record; the commit takes it. Records fetched again (after a seek back)
below it are skipped: what the open transaction holds is not processed twice.

The raw topics are written without transactions (``dense``): each offset is a record, and a
fetch brings them without holes. Records missing all the same were lost on their way here, and
are read again: :meth:`Reading.next_run` gives the records before the hole, and the offset to
seek back to. A hole found again right after such a read-again holds records no longer in the
log (retention): the reading goes on after it. Topics written in transactions (the cascade
members) have holes where the markers are, and are taken as they come.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Run:
    records: list[Any]  # to process now, in offset order
    read_again_from: int | None = None  # seek back there afterwards: records are missing
    gone: tuple[int, int] | None = None  # offsets no longer in the log, passed (first, last)


@dataclass
class Reading:
    dense: set[str]  # topics where each offset is a record
    next_offsets: dict[Any, int | None] = field(default_factory=dict)  # None: from the first fetched
    sought_back: dict[Any, int] = field(default_factory=dict)

    def start(self, assigned: Iterable[Any], committed: dict[Any, int | None]) -> None:
        """After the seek to the committed offsets: each partition is read from there on, unless it
        was processed further in this assignment."""
        for tp in assigned:
            known = self.next_offsets.get(tp)
            offset = committed.get(tp)
            self.next_offsets[tp] = offset if known is None or offset is None else max(known, offset)

    def forget(self) -> None:
        """A revocation, after its commit: every partition is read again from its committed offset."""
        self.next_offsets.clear()
        self.sought_back.clear()

    def reads(self, tp: Any) -> bool:
        return tp in self.next_offsets

    def next_run(self, tp: Any, records: list[Any]) -> Run:
        """Which of ``records`` (fetched for ``tp``, in offset order) to process now."""
        expected = self.next_offsets[tp]
        if expected is not None and records and records[0].offset < expected:
            records = [record for record in records if record.offset >= expected]
        if not records:
            return Run([])
        if tp.topic not in self.dense:
            return Run(records)
        first, gone = records[0].offset, None
        if expected is not None and first > expected:
            if self.sought_back.get(tp) != expected:
                self.sought_back[tp] = expected
                return Run([], read_again_from=expected)
            gone = (expected, first - 1)
        if records[-1].offset - first == len(records) - 1:
            return Run(records, gone=gone)  # no hole: the usual case
        run = [records[0]]
        for record in records[1:]:
            if record.offset != run[-1].offset + 1:
                break
            run.append(record)
        self.sought_back[tp] = run[-1].offset + 1
        return Run(run, read_again_from=run[-1].offset + 1, gone=gone)

    def processed(self, tp: Any, last_offset: int) -> None:
        self.next_offsets[tp] = last_offset + 1

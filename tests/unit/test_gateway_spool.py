"""The spool's storage rules, on real SQLite files: what is drainable, in which order, within
which bound, shared by two processes' connections, and what a disk that refuses looks like."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from gateway.delivery import LateSend
from gateway.errors import SpoolFullError, SpoolUnavailableError
from gateway.producer import OutRecord
from gateway.spool import Spool


def record(n: int, size: int = 10) -> OutRecord:
    return OutRecord("t.raw", f"k{n}".encode(), b"v" * size, [("request_id", f"r{n}".encode())])


def test_records_drain_in_arrival_order_and_are_gone_once_deleted(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10_000)
    first = spool.append([record(1), record(2)], "revicom", in_flight=False)
    second = spool.append([record(3)], "revicom", in_flight=False)
    drainable = spool.drainable(limit=10)
    assert [s.id for s in drainable] == first + second
    assert [s.record for s in drainable] == [record(1), record(2), record(3)]
    spool.delete(first)
    assert [s.record for s in spool.drainable(limit=10)] == [record(3)]
    assert spool.stats().records == 1


def test_records_a_live_process_has_in_flight_wait_until_it_releases_them_or_dies(tmp_path: Path) -> None:
    gateway, other = Spool(tmp_path, max_bytes=10_000), Spool(tmp_path, max_bytes=10_000)
    gateway.keep_alive(alive_s=60)
    settled = gateway.append([record(1)], "revicom", in_flight=True)
    free = gateway.append([record(2)], "revicom", in_flight=False)
    assert [s.id for s in other.drainable(limit=10)] == free
    gateway.release(settled)
    assert [s.id for s in other.drainable(limit=10)] == settled + free

    dying = Spool(tmp_path, max_bytes=10_000)
    dying.keep_alive(alive_s=0.2)
    orphans = dying.append([record(3)], "revicom", in_flight=True)
    assert [s.id for s in other.drainable(limit=10)] == settled + free
    time.sleep(0.3)  # it stopped saying it is alive: killed
    assert [s.id for s in other.drainable(limit=10)] == settled + free + orphans


def test_a_full_spool_refuses_the_whole_request_and_keeps_what_it_has(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=100)
    spool.append([record(1, size=40)], "revicom", in_flight=False)
    with pytest.raises(SpoolFullError, match="the limit is 100"):
        spool.append([record(2, size=40), record(3, size=40)], "revicom", in_flight=False)
    stats = spool.stats()
    assert (stats.records, stats.bytes) == (1, len(b"k1") + 40)


def test_two_processes_share_the_file_and_only_one_holds_the_drain_lease(tmp_path: Path) -> None:
    one, two = Spool(tmp_path, max_bytes=10_000), Spool(tmp_path, max_bytes=10_000)
    one.append([record(1)], "revicom", in_flight=False)
    two.append([record(2)], "revicom", in_flight=False)
    assert [s.record for s in one.drainable(limit=10)] == [record(1), record(2)]
    assert one.take_lease(lease_s=30)
    assert not two.take_lease(lease_s=30)
    assert one.take_lease(lease_s=30)  # renewed by its holder
    one.leave()  # a clean stop gives it up
    assert two.take_lease(lease_s=0.1)
    time.sleep(0.2)
    assert one.take_lease(lease_s=30)  # an expired lease (a killed process) is taken over


def test_oldest_age_and_headers_survive_the_round_trip(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10_000)
    odd = OutRecord("t", b"k", b"v", [("error", "caf\u00e9".encode()), ("raw", b"\xff\xfe")])
    spool.append([odd], "edna", in_flight=False)
    assert spool.drainable(limit=1)[0].record == odd
    assert 0 <= spool.stats().oldest_age_s() < 5
    spool.delete([spool.drainable(limit=1)[0].id])
    assert spool.stats().oldest_age_s() == 0


def test_a_directory_that_cannot_be_created_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the spool directory should be")
    spool = Spool(blocker / "spool", max_bytes=10_000)
    with pytest.raises(
        SpoolUnavailableError, match=r"spool at .*not-a-dir/spool/spool.sqlite3 cannot append"
    ):
        spool.append([record(1)], "revicom", in_flight=False)


def test_the_spool_leaves_the_disk_room_to_drain(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10_000, min_free_bytes=10**18)  # more than any disk has
    with pytest.raises(SpoolFullError, match=r"bytes free; the spool leaves 10+ free for draining"):
        spool.append([record(1)], "revicom", in_flight=False)
    assert not spool.has_room(spool.stats())


@pytest.mark.parametrize("outcome_first", [True, False])
@pytest.mark.parametrize(("undelivered", "left"), [([], []), (None, [0, 1]), ([1], [1])])
def test_a_late_send_settles_its_rows_whichever_comes_first(
    tmp_path: Path, outcome_first: bool, undelivered: list[int] | None, left: list[int]
) -> None:
    """Rows of delivered records are deleted, the others go to the drainer."""
    spool = Spool(tmp_path, max_bytes=10_000)
    spool.keep_alive(alive_s=60)
    late = LateSend(spool)
    if outcome_first:
        late.finished(undelivered)
    ids = spool.append([record(1), record(2)], "revicom", in_flight=True)
    late.spooled(ids)
    if not outcome_first:
        late.finished(undelivered)
    other = Spool(tmp_path, max_bytes=10_000)
    assert [s.id for s in other.drainable(limit=10)] == [ids[n] for n in left]
    assert spool.stats().records == len(left)

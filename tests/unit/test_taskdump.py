"""SIGUSR1's task dump names the function a stuck task waits in."""

from __future__ import annotations

import asyncio
import logging

import pytest

from streams import taskdump


async def _inner(event: asyncio.Event) -> None:
    await event.wait()


async def _outer(event: asyncio.Event) -> None:
    await _inner(event)


def test_the_dump_shows_each_task_down_to_where_it_waits(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> int:
        event = asyncio.Event()
        task = asyncio.create_task(_outer(event), name="stuck-one")
        await asyncio.sleep(0)
        count = taskdump.dump()
        event.set()
        await task
        return count

    with caplog.at_level(logging.WARNING, logger="streams.taskdump"):
        count = asyncio.run(main())
    assert count == 2  # main and the stuck task
    line = next(r.getMessage() for r in caplog.records if "stuck-one" in r.getMessage())
    functions = [step.rsplit(" ", 1)[1] for step in line.split("waits at: ", 1)[1].split(" -> ")]
    assert functions == ["_outer", "_inner", "wait"]  # asyncio.Event.wait, innermost


def test_outside_a_loop_it_says_so(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="streams.taskdump"):
        assert taskdump.dump() == 0
    assert "no event loop is running" in caplog.text

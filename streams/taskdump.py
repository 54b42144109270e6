"""``kill -USR1 <worker pid>``: the worker logs where each of its asyncio tasks is waiting.

A worker that stops making progress without crashing shows only an idle event loop to
py-spy; this shows each task's chain of awaits, innermost last, one ``WARNING`` per task.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Iterator
from types import FrameType
from typing import Any

logger = logging.getLogger(__name__)


def install() -> None:
    """Dump the tasks on SIGUSR1 (the handler runs on the main thread, whose loop they are)."""
    signal.signal(signal.SIGUSR1, lambda _signum, _frame: dump())


def dump() -> int:
    """Log every task of the running loop with its await chain; returns how many."""
    try:
        tasks = asyncio.all_tasks()
    except RuntimeError:  # no running loop (yet)
        logger.warning("task dump: no event loop is running")
        return 0
    for task in sorted(tasks, key=lambda t: t.get_name()):
        chain = " -> ".join(await_chain(task.get_coro()))
        logger.warning("task %s waits at: %s", task.get_name(), chain or "(not started)")
    return len(tasks)


def await_chain(awaitable: Any) -> list[str]:
    """``file:line function`` of each coroutine or generator in the chain, outermost first."""
    return [
        f"{frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}" for frame in _frames(awaitable)
    ]


def _frames(awaitable: Any) -> Iterator[FrameType]:
    seen = 0
    while awaitable is not None and seen < 100:
        seen += 1
        frame = next(
            (getattr(awaitable, a) for a in ("cr_frame", "gi_frame", "ag_frame") if hasattr(awaitable, a)),
            None,
        )
        if frame is not None:
            yield frame
        awaitable = next(
            (
                getattr(awaitable, a)
                for a in ("cr_await", "gi_yieldfrom", "ag_await")
                if hasattr(awaitable, a)
            ),
            None,
        )

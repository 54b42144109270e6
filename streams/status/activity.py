"""What one worker saw lately, kept in memory for the status page: raw callbacks per provider
and minute (the last hour, by the raw record's timestamp) and the dead letters it sent (a
count per provider and the latest few with their reasons).

Memory only: a restarted worker starts from nothing, and the counts are those of the
records this worker handled (the status page adds up every worker's).
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

WINDOW_MINUTES = 60
DEAD_LETTERS_KEPT = 20


@dataclass(frozen=True)
class DeadLetter:
    at: float  # epoch seconds, when it was sent to the DLQ
    provider: str
    key: str
    reason: str
    topic: str
    partition: int
    offset: int


class Activity:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.callbacks: dict[str, Counter[int]] = {}  # provider -> epoch minute -> callbacks
        self.dead_letter_counts: Counter[str] = Counter()
        self.recent_dead_letters: deque[DeadLetter] = deque(maxlen=DEAD_LETTERS_KEPT)

    def count_callback(self, provider: str, timestamp_s: float) -> None:
        """One raw callback handled, written at ``timestamp_s``; older than the window: ignored."""
        minute = int(timestamp_s // 60)
        per_minute = self.callbacks.get(provider)
        if per_minute is None:
            per_minute = self.callbacks[provider] = Counter()
        if minute not in per_minute:
            oldest = self._current_minute() - WINDOW_MINUTES + 1
            if minute < oldest:
                return
            for old in [m for m in per_minute if m < oldest]:
                del per_minute[old]
        per_minute[minute] += 1

    def count_dead_letter(self, dead_letter: DeadLetter) -> None:
        self.dead_letter_counts[dead_letter.provider] += 1
        self.recent_dead_letters.append(dead_letter)

    def report(self) -> dict[str, Any]:
        """JSON-ready: callbacks by provider and epoch minute (the window only), dead letters."""
        oldest = self._current_minute() - WINDOW_MINUTES + 1
        return {
            "callbacks": {
                provider: {str(minute): n for minute, n in sorted(per_minute.items()) if minute >= oldest}
                for provider, per_minute in self.callbacks.items()
            },
            "dead_letters": dict(self.dead_letter_counts),
            "recent_dead_letters": [asdict(d) for d in reversed(self.recent_dead_letters)],
        }

    def _current_minute(self) -> int:
        return int(self.clock() // 60)

"""Local tables are trusted only after a clean stop.

The local RocksDB tables hold writes at once, committed or not. After a run that did not end
with its final commit (SIGKILL, crash, power loss) they may be ahead of the changelog, and
re-applying an event would then change nothing and write nothing. So a worker marks its tables
"in use" from start until a clean stop, and one that finds the marker of a run that did not stop
cleanly discards its tables and rebuilds them from the changelogs.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

logger = logging.getLogger(__name__)

IN_USE_MARKER = "tables.in-use"  # beside the table dir, from start until a clean stop


def claim_tables(tabledir: Path) -> bool:
    """Mark the tables in use; discard them first if the last run did not stop cleanly.

    Returns whether they were discarded (the worker then restores them from the changelogs).
    """
    marker = tabledir.parent / IN_USE_MARKER
    discarded = marker.exists() and tabledir.exists()
    if discarded:
        logger.warning("tables of an unclean stop discarded, restoring from the changelogs dir=%s", tabledir)
        shutil.rmtree(tabledir)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    return discarded


def release_tables(tabledir: Path) -> None:
    """The tables match the committed changelogs: the next run may keep them."""
    (tabledir.parent / IN_USE_MARKER).unlink(missing_ok=True)

"""Everything that reaches into faust-streaming's internals, fenced in here.

The worker runs on Faust 0.15.3 and corrects some of its behaviour (docs/architecture.md,
"Faust patches", lists each fix and the Faust behaviour it corrects):

- :mod:`.transport`: the aiokafka transport with exactly-once that holds for this topology and
  the batch path's hand-off (the raw records taken out of each fetch);
- :mod:`.restore`: the table restore read in bulk;
- :mod:`.changelogends`: where a transactional changelog's committed data ends;
- :mod:`.access`: the few private attributes the rest of the worker needs, read here.

They were written against one release of Faust's private attributes (``_committed_offset``,
``_transaction_producers``, ``_db_for_partition``, ``app._consumer`` ...), so :func:`install`
refuses any other release with a clear error instead of failing later in a rebalance.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any

from streams.faustpatches.restore import BulkRestoringTableManager
from streams.faustpatches.transport import Transport

FAUST_DISTRIBUTION = "faust-streaming"
FAUST_VERSION = "0.15.3"  # the release these patches were read against and tested with


class FaustVersionError(RuntimeError):
    """The installed faust-streaming is not the release the patches were written for."""


def check_version(installed: str | None = None) -> None:
    """Raise :class:`FaustVersionError` unless faust-streaming is :data:`FAUST_VERSION`."""
    found = metadata.version(FAUST_DISTRIBUTION) if installed is None else installed
    if found != FAUST_VERSION:
        raise FaustVersionError(
            f"{FAUST_DISTRIBUTION} {found} is installed, but the worker's fixes to Faust "
            f'(streams/faustpatches, docs/architecture.md "Faust patches") were written for '
            f"{FAUST_VERSION}: install {FAUST_DISTRIBUTION}=={FAUST_VERSION} (pip install -e .), "
            f"or review every patch against {found} before changing the pin in pyproject.toml"
        )


def install(app: Any, *, bulk_restore: bool) -> Transport:
    """Put the patches on ``app``, before anything declares an agent or a table (both ask for the
    transport and the table manager). Returns the transport: the batch path is handed to it."""
    check_version()
    if bulk_restore:
        app.conf.TableManager = BulkRestoringTableManager
    transport = Transport(app.conf.broker_consumer, app)
    app.transport = transport
    return transport

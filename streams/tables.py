"""The tables: per-message states and per-cascade states.

Keys are UTF-8 bytes, serialized raw, so that the view routing hashes exactly the bytes
the records were keyed with (murmur2, like the Java client): the message key, as the
gateway keyed the raw record, and the cascade key ``<provider>:<cascade id>``, as the
message agent keys the cascade topic. Values are bytes too, which the agents encode
themselves (``streams.staterecords``, ``streams.cascade``), so the changelog holds exactly
them; the app's key and value serializers are raw.

Each table keeps one RocksDB per partition (16 for a worker that owns all 8 partitions of
both tables). Faust's defaults give each of them 64 MiB write buffers, up to three, and a
2 GiB block cache: a worker restoring 1M states held 657 MiB, most of it memtables. The
options below bound a database's memory to about 12 MiB; the states a worker reads are
mostly the recent ones, still in the memtables, and older ones are a bloom-filtered read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from schemas.topicnames import TABLES

MESSAGE_STATES, CASCADE_STATES = TABLES
MiB = 1024 * 1024


@dataclass(frozen=True)
class Tables:
    message_states: Any  # message key -> the message's state (streams.staterecords JSON)
    cascade_states: Any  # <provider>:<cascade id> -> the cascade's members (streams.cascade JSON)

    def changelogs(self) -> dict[str, Any]:
        """Each table by the name of its changelog topic."""
        return {
            str(table.changelog_topic.get_topic_name()): table
            for table in (self.message_states, self.cascade_states)
        }


def rocksdb_options() -> dict[str, int]:
    """A fresh dict per table: Faust's store pops from the one it is given."""
    return {"write_buffer_size": 4 * MiB, "max_write_buffer_number": 2, "block_cache_size": 4 * MiB}


def create_tables(app: Any) -> Tables:
    """Declare both tables on ``app``."""
    return Tables(
        message_states=_table(
            app, MESSAGE_STATES, "message key -> the message's state (streams.staterecords JSON)"
        ),
        cascade_states=_table(
            app, CASCADE_STATES, "<provider>:<cascade id> -> its members (streams.cascade JSON)"
        ),
    )


def _table(app: Any, name: str, help_text: str) -> Any:
    return app.Table(
        name, default=None, key_type=bytes, value_type=bytes, options=rocksdb_options(), help=help_text
    )

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

from typing import Any

from schemas.topicnames import TABLES
from streams.app import app

MESSAGE_STATES, CASCADE_STATES = TABLES
MiB = 1024 * 1024


def rocksdb_options() -> dict[str, int]:
    """A fresh dict per table: Faust's store pops from the one it is given."""
    return {"write_buffer_size": 4 * MiB, "max_write_buffer_number": 2, "block_cache_size": 4 * MiB}


message_states = app.Table(
    MESSAGE_STATES,
    default=None,
    key_type=bytes,
    value_type=bytes,
    options=rocksdb_options(),
    help="message key -> the message's state (streams.staterecords JSON)",
)
cascade_states = app.Table(
    CASCADE_STATES,
    default=None,
    key_type=bytes,
    value_type=bytes,
    options=rocksdb_options(),
    help="<provider>:<cascade id> -> the cascade's members (streams.cascade JSON)",
)


def held(table: Any, key: bytes) -> bytes | None:
    """The table's value for ``key``, or None, in one RocksDB read.

    ``table.get(key)`` makes two (a ``key in`` check, then the read), and counts a table-get
    in Faust's monitor; this is the agents' read, once per event.
    """
    try:
        value: bytes = table.data[key]
    except KeyError:
        return None
    return value

"""The per-message tables.

Keys are message keys as UTF-8 bytes, serialized raw, so that the view routing
hashes exactly the bytes the gateway keyed the raw record with (murmur2, like
the Java client). Values are JSON dicts (``streams.state``).
"""

from __future__ import annotations

from streams.app import app

message_states = app.Table(
    "message_states",
    default=None,
    key_type=bytes,  # raw UTF-8 message key: routes like the gateway's records
    help="message key -> the message's state (streams.state)",
)

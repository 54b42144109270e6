"""The tables: per-message states and per-cascade states.

Keys are UTF-8 bytes, serialized raw, so that the view routing hashes exactly the bytes
the records were keyed with (murmur2, like the Java client): the message key, as the
gateway keyed the raw record, and the cascade key ``<provider>:<cascade id>``, as the
message agent keys the cascade topic. Values are bytes too, which the agents encode
themselves (``streams.staterecords``, ``streams.cascade``), so the changelog holds exactly
them; the app's key and value serializers are raw.
"""

from __future__ import annotations

from cbsp.topicnames import TABLES
from streams.app import app

MESSAGE_STATES, CASCADE_STATES = TABLES

message_states = app.Table(
    MESSAGE_STATES,
    default=None,
    key_type=bytes,
    value_type=bytes,
    help="message key -> the message's state (streams.staterecords JSON)",
)
cascade_states = app.Table(
    CASCADE_STATES,
    default=None,
    key_type=bytes,
    value_type=bytes,
    help="<provider>:<cascade id> -> the cascade's members (streams.cascade JSON)",
)

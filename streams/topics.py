"""Every topic the workers read or write, declared once; names from ``schemas.topicnames``."""

from __future__ import annotations

from streams.app import app, settings

topics = settings.topics

# the raw topics and the replay topic (`cbsp replay`): keyed and partitioned alike, read alike
raw_callbacks_topic = app.topic(
    *topics.raw_all(), topics.replay, key_serializer="raw", value_serializer="raw"
)
event_topics = {
    kind: app.topic(topics.event(kind), key_serializer="raw", value_serializer="raw")
    for kind in ("status", "price", "click", "inbound")
}
state_message_topic = app.topic(topics.state_message, key_serializer="raw", value_serializer="raw")
# MessageState records keyed by cascade key: the cascade table's source, partitioned like it
cascade_members_topic = app.topic(topics.cascade_members, key_serializer="raw", value_serializer="raw")
dlq_topic = app.topic(topics.dlq, key_serializer="raw", value_serializer="raw")

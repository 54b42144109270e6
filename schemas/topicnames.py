"""Every Kafka topic name of the public contract, in one table (DESIGN.md, "Kafka topics").

Both the gateway and the Faust workers take their topic names from here, so a
configurable prefix (``CBSP_TOPIC_PREFIX``) moves all of them at once.
"""

from __future__ import annotations

from dataclasses import dataclass

RAW_TEMPLATE = "callbacks.raw.{provider}"
REJECTED = "callbacks.rejected"
DLQ = "callbacks.dlq"
REPLAY = "callbacks.replay"  # internal: raw records put back through normalization by `cbsp replay`
STATE_MESSAGE = "state.message.v1"
# internal: message states keyed by "<provider>:<cascade id>", the cascade table's source
CASCADE_MEMBERS = "state.cascade.members"
EVENTS = {
    "status": "events.status.v1",
    "price": "events.price.v1",
    "click": "events.click.v1",
    "inbound": "events.inbound.v1",
}

PROVIDERS = ("revicom", "recessmobile", "fortytwo", "edna")

# The workers' Faust tables; each has a compacted changelog topic named by changelog().
TABLES = ("message_states", "cascade_states")


def changelog(app_id: str, table: str) -> str:
    """The changelog topic Faust gives ``table`` of the app ``app_id`` (one per consumer group)."""
    return f"{app_id}-{table}-changelog"


@dataclass(frozen=True)
class TopicNames:
    """Topic names with the deployment's prefix applied."""

    prefix: str = ""

    def raw(self, provider: str) -> str:
        return self.prefix + RAW_TEMPLATE.format(provider=provider)

    def raw_all(self) -> list[str]:
        return [self.raw(provider) for provider in PROVIDERS]

    def event(self, kind: str) -> str:
        return self.prefix + EVENTS[kind]

    def events_all(self) -> list[str]:
        return [self.event(kind) for kind in EVENTS]

    @property
    def rejected(self) -> str:
        return self.prefix + REJECTED

    @property
    def dlq(self) -> str:
        return self.prefix + DLQ

    @property
    def replay(self) -> str:
        return self.prefix + REPLAY

    @property
    def state_message(self) -> str:
        return self.prefix + STATE_MESSAGE

    @property
    def cascade_members(self) -> str:
        return self.prefix + CASCADE_MEMBERS

    def all(self) -> list[str]:
        return [
            *self.raw_all(),
            self.rejected,
            self.replay,
            *self.events_all(),
            self.state_message,
            self.cascade_members,
            self.dlq,
        ]

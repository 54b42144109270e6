"""``python -m cbsp.docgen [PATH]`` (``make docs``): write docs/topics.md from the code.

The topic names come from ``schemas.topicnames``, their partitions and configs from the
specs ``cbsp topics`` creates them with (``schemas.topicadmin.topic_specs``), the value schemas
from ``streams.canonical`` and ``streams.staterecords``, the field tables from the
``.avsc`` files. Only what a name cannot say (key, headers, who writes and reads) is
written here, once per topic; a topic without it stops the generator, so the page
cannot fall behind the code. A unit test regenerates the page and compares.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from aiokafka.admin import NewTopic

from cbsp.schemadoc import cell, link, render_schema
from schemas import NAMESPACE, schema_dir, topicnames
from schemas.topicadmin import TopicPlan, topic_specs
from schemas.topicnames import TABLES, TopicNames, changelog
from streams import staterecords
from streams.canonical import EVENT_SCHEMAS
from streams.settings import WorkerSettings

DEFAULT_OUTPUT = Path("docs/topics.md")
RAW_HEADERS = "`provider`, `kind`, `received_at`, `request_id`, `source_ip`"
AVRO_HEADERS = (
    "`content-type: application/vnd.apache.avro+binary`, `schema`, `schema-fingerprint`; "
    "`schema-id` in the Confluent wire format"
)
INTERNAL_AVRO_HEADERS = "`content-type: application/vnd.apache.avro+binary`, `schema`, `schema-fingerprint`"
SOURCE_HEADERS = "`source_topic`, `source_partition`, `source_offset`"


@dataclass(frozen=True)
class TopicDoc:
    """What a topic's name and config do not say."""

    key: str
    value: str
    headers: str
    written_by: str
    read_by: str


def _event_doc(kind: str) -> TopicDoc:
    return TopicDoc(
        key="message key",
        value=f"Avro {link(f'{NAMESPACE}.{EVENT_SCHEMAS[kind]}')}",
        headers=AVRO_HEADERS,
        written_by="workers (in the source partition's transaction)",
        read_by="other services (`isolation_level=read_committed`)",
    )


STATE_VALUE = f"Avro {link(f'{NAMESPACE}.{staterecords.SCHEMA}')}"
CHANGELOG = "changelog"  # the key of the tables' changelogs below, which have no constant of their own

TOPIC_DOCS: dict[str, TopicDoc] = {
    topicnames.RAW_TEMPLATE: TopicDoc(
        key="message key",
        value="one callback object, JSON (UTF-8)",
        headers=f"{RAW_HEADERS}; `replayed_from` when `cbsp replay --from rejected` wrote it",
        written_by="gateway (`acks=all` before `200`); `cbsp replay --from rejected`",
        read_by="workers; `cbsp replay`",
    ),
    topicnames.REJECTED: TopicDoc(
        key="request id",
        value="the refused request body, as received",
        headers=f"{RAW_HEADERS} (`kind` is `rejected`), `error`, `content_type`",
        written_by="gateway (answers `400`/`415`)",
        read_by="operators (`cbsp tail`); `cbsp replay --from rejected`",
    ),
    topicnames.REPLAY: TopicDoc(
        key="message key",
        value="the raw record's value",
        headers=f"the raw record's, plus {SOURCE_HEADERS} (the original raw record)",
        written_by="`cbsp replay`",
        read_by="workers (internal)",
    ),
    **{name: _event_doc(kind) for kind, name in topicnames.EVENTS.items()},
    topicnames.STATE_MESSAGE: TopicDoc(
        key="message key",
        value=f"{STATE_VALUE}, the whole state after each change",
        headers=AVRO_HEADERS,
        written_by="workers, only when the state changed",
        read_by="other services",
    ),
    topicnames.CASCADE_MEMBERS: TopicDoc(
        key="`<provider>:<cascade id>`",
        value=f"{STATE_VALUE} of a member message, always single-object encoded",
        headers=INTERNAL_AVRO_HEADERS,
        written_by="workers",
        read_by="workers: the cascade table (internal)",
    ),
    topicnames.DLQ: TopicDoc(
        key="as the raw record",
        value="the raw record's value",
        headers=f"the raw record's, plus `error`, {SOURCE_HEADERS}",
        written_by="workers (a record normalization refused)",
        read_by="operators (`cbsp tail`); `cbsp replay --from dlq`",
    ),
    CHANGELOG: TopicDoc(
        key="the table's key",
        value="the table's value, JSON (internal format)",
        headers="none",
        written_by="workers (Faust table changelog)",
        read_by="workers, to restore the table",
    ),
}


def doc_key(name: str, app_id: str) -> str:
    """The TOPIC_DOCS entry of the (unprefixed) topic ``name``."""
    if name in (changelog(app_id, table) for table in TABLES):
        return CHANGELOG
    raw = {topicnames.RAW_TEMPLATE.format(provider=p) for p in topicnames.PROVIDERS}
    return topicnames.RAW_TEMPLATE if name in raw else name


def retention(spec: NewTopic) -> str:
    configs = spec.topic_configs
    if configs.get("cleanup.policy") == "compact":
        return "compacted"
    if "retention.ms" in configs:
        return f"delete after {int(configs['retention.ms']) // (24 * 3600 * 1000)} days"
    return "delete, broker default retention"


def topics_table(app_id: str) -> str:
    changelogs = [changelog(app_id, table) for table in TABLES]
    lines = [
        "| topic | key | value | headers | cleanup | written by | read by |",
        "|---|---|---|---|---|---|---|",
    ]
    for spec in topic_specs(TopicNames(), TopicPlan(), changelogs):
        key = doc_key(spec.name, app_id)
        if key not in TOPIC_DOCS:
            raise KeyError(f"topic {spec.name!r} has no entry in cbsp.docgen.TOPIC_DOCS: describe it there")
        doc = TOPIC_DOCS[key]
        lines.append(
            f"| `{spec.name}` | {_cell(doc.key)} | {doc.value} | {doc.headers} | {retention(spec)} "
            f"| {doc.written_by} | {doc.read_by} |"
        )
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    """Escape a cell unless it is code already (backticks keep ``<`` as it is)."""
    return text if text.startswith("`") else cell(text)


def render_topics() -> str:
    defaults = WorkerSettings()
    schemas = sorted(schema_dir().glob("*.avsc"))
    return "\n".join(
        [
            "# Topics and schemas",
            "",
            "<!-- Generated by `python -m cbsp.docgen` (`make docs`) from schemas/topicnames.py,",
            "     schemas/topicadmin.py, cbsp/docgen.py and schemas/*.avsc.",
            "     Do not edit: change those and regenerate. -->",
            "",
            "Every topic `cbsp topics` and `cbsp worker` create, by default name: a deployment may put",
            "a prefix (`CBSP_TOPIC_PREFIX`) in front of all of them. Each topic gets `CBSP_PARTITIONS`",
            f"partitions (default {defaults.partitions}) and `CBSP_REPLICATION_FACTOR` replicas "
            f"(default {defaults.replication_factor}); the",
            f"changelogs are named after `CBSP_WORKER_APP_ID` (default `{defaults.app_id}`). The message key",
            "is `<provider>:<provider message id>`. How to read the topics: [consumers.md](consumers.md).",
            "",
            topics_table(defaults.app_id),
            "## Schemas",
            "",
            f"The Avro records of the `{NAMESPACE}` namespace, one `.avsc` file each, shipped in the",
            "`schemas` package (`cbsp schemas DIR` writes them out). Values are Avro single-object",
            "encoded: `C3 01`, the 8-byte fingerprint below, then the Avro binary body; with",
            "`CBSP_SCHEMA_REGISTRY_URL` set, the public topics carry the Confluent wire format instead",
            "(`00`, the registry's 4-byte schema id, the same body: [consumers.md](consumers.md)).",
            "",
            "\n".join(render_schema(path) for path in schemas),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cbsp.docgen", description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    args.output.write_text(render_topics())
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""docs/topics.md is generated (`make docs`) and must be what the generator writes now."""

from __future__ import annotations

from pathlib import Path

from cbsp.docgen import render_topics
from schemas import schema_dir
from schemas.topicnames import TopicNames

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "topics.md"


def test_the_committed_page_is_what_the_generator_writes() -> None:
    assert PAGE.read_text() == render_topics(), "docs/topics.md is stale: run `make docs` and commit it"


def test_every_topic_has_a_row_and_every_schema_a_section() -> None:
    page = render_topics()
    for topic in TopicNames().all():
        assert f"\n| `{topic}` |" in page, topic
    for path in schema_dir().glob("*.avsc"):
        assert f"\n### {path.stem}\n" in page, path.name


def test_schema_links_point_at_sections_of_the_page() -> None:
    page = render_topics()
    sections = {path.stem.replace(".", "").lower() for path in schema_dir().glob("*.avsc")}
    linked = {part.split(")")[0] for part in page.split("](#")[1:]}
    assert linked, "no schema links in the page"
    assert linked <= sections

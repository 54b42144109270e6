"""Links between the docs resolve: to a file of the repository and, with #anchor, to a heading in it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.markdown import github_anchors, relative_links

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_relative_links_resolve(page: Path) -> None:
    broken = []
    for target, pending in relative_links(page):
        file_part, _, anchor = target.partition("#")
        linked = (page.parent / file_part).resolve() if file_part else page
        if pending and not linked.exists():
            continue  # another change adds that file; the lead checks the marker at merge
        if not linked.exists():
            broken.append(target)
        elif anchor and anchor not in github_anchors(linked.read_text()):
            broken.append(target)
    assert not broken, f"{page.name}: {broken}"


def test_the_readme_links_every_page_of_docs() -> None:
    linked = {target.partition("#")[0] for target, _ in relative_links(ROOT / "README.md")}
    assert {f"docs/{page.name}" for page in (ROOT / "docs").glob("*.md")} <= linked

"""What the docs tests read out of Markdown: heading anchors and relative links."""

from __future__ import annotations

import re
from pathlib import Path

LINK = re.compile(r"\]\(([^)\s]+)\)")
PENDING = "<!-- pending:"


def github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives the headings: lower case, punctuation dropped, spaces to dashes."""
    text = re.sub(r"^```.*?^```", "", markdown, flags=re.MULTILINE | re.DOTALL)  # no headings in code
    headings = re.findall(r"^#{1,6} (.+)$", text, re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


def relative_links(path: Path) -> list[tuple[str, bool]]:
    """Every link to a file of the repository, with whether its line is marked pending."""
    found = []
    for line in path.read_text().splitlines():
        for target in LINK.findall(line):
            if not re.match(r"[a-z]+:", target):
                found.append((target, PENDING in line))
    return found

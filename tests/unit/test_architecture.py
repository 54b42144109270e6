"""The architecture holds (docs/architecture.md, "Packages"): the contract at the bottom, no import
running up from a lower package to a higher one, Faust's private parts touched in one subpackage
only, and one provider list that both sides agree with."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.providers import REGISTRY as GATEWAY_PROVIDERS
from schemas.topicnames import PROVIDERS
from streams.normalize import REGISTRY as NORMALIZERS

ROOT = Path(__file__).resolve().parents[2]
# package -> the project packages it may import; cbsp (the command line) sits on top of them all
MAY_IMPORT = {
    "schemas": set(),
    "gateway": {"schemas"},
    "streams": {"schemas"},
    "cbsp": {"schemas", "gateway", "streams"},
}
PROJECT_PACKAGES = {*MAY_IMPORT, "bench", "tests"}
FAUST_PATCHES = ROOT / "streams" / "faustpatches"
# receivers whose private attributes are a module's own business
OWN = {"self", "cls"}


def modules(package: str) -> Iterator[Path]:
    yield from sorted((ROOT / package).rglob("*.py"))


def imported_packages(path: Path) -> Iterator[tuple[int, str]]:
    """The project packages ``path`` imports (at the top or inside a function), with the line."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top in PROJECT_PACKAGES:
                yield node.lineno, top


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_no_import_runs_up_from_a_lower_package(package: str) -> None:
    allowed = MAY_IMPORT[package] | {package}
    upward = [
        f"{path.relative_to(ROOT)}:{line} imports {top}"
        for path in modules(package)
        for line, top in imported_packages(path)
        if top not in allowed
    ]
    assert not upward, f"{package}/ may import only {sorted(allowed)}: " + "; ".join(upward)


def foreign_private_attributes(path: Path) -> Iterator[str]:
    """``x._name`` where ``x`` is not ``self``/``cls`` (dunder names aside)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Attribute):
            continue
        name = node.attr
        if not name.startswith("_") or (name.startswith("__") and name.endswith("__")):
            continue
        if isinstance(node.value, ast.Name) and node.value.id in OWN:
            continue
        yield f"{path.relative_to(ROOT)}:{node.lineno} .{name}"


def test_faust_private_attributes_are_touched_in_streams_faustpatches_only() -> None:
    touched = [
        spot
        for path in modules("streams")
        if FAUST_PATCHES not in path.parents
        for spot in foreign_private_attributes(path)
    ]
    assert not touched, "private attributes outside streams/faustpatches: " + "; ".join(touched)


def test_the_scan_finds_private_attributes_where_they_are() -> None:
    """The check above can fail: the patches themselves are full of them."""
    found = [spot for path in FAUST_PATCHES.rglob("*.py") for spot in foreign_private_attributes(path)]
    assert any("._committed_offset" in spot for spot in found)
    assert any("._transaction_producers" in spot for spot in found)


def test_the_provider_list_and_both_registries_agree() -> None:
    assert sorted(GATEWAY_PROVIDERS) == sorted(PROVIDERS), "gateway/providers REGISTRY vs schemas.topicnames"
    assert sorted(NORMALIZERS) == sorted(PROVIDERS), "streams/normalize REGISTRY vs schemas.topicnames"
    assert len(set(PROVIDERS)) == len(PROVIDERS), f"a provider listed twice: {PROVIDERS}"

"""What users read cites only what users have: docs/sources.md defines every tag the
scenarios cite, and no shipped text points at the project's private notes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "docs" / "sources.md"
#: Notes that live outside the repository: no user has them.
# (the shared paths are spelled in two pieces so that this file does not itself cite them)
PRIVATE = ("DOMAIN.md", "REFERENCE_CLASSES", "MODEL.md", ".." + "/shared", "/work" + "/shared")
#: A citation in a scenario comment: an upper-case tag (or two joined by "/") and a colon.
CITATION = re.compile(r"\b([A-Z]{2,}(?:/[A-Z]{2,})*):")


def shipped_text_files() -> list[Path]:
    """The package (code, data, docstrings), the bundled scenarios, the docs and the README."""
    files = [p for p in (ROOT / "simengine").rglob("*") if p.suffix in (".py", ".toml", ".md", ".txt", ".json")]
    files += sorted((ROOT / "scenarios").glob("*.toml")) + sorted((ROOT / "docs").glob("*.md"))
    return [p for p in files + [ROOT / "README.md"] if "__pycache__" not in p.parts]


def private_mentions(path: Path) -> list[str]:
    words = PRIVATE if path.suffix != ".py" else tuple(w for w in PRIVATE if w != "MODEL.md")
    return [f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if any(w in line for w in words)]


def test_no_shipped_text_cites_private_notes():
    files = shipped_text_files()
    assert ROOT / "simengine" / "reference_classes.toml" in files and SOURCES in files
    found = [m for path in files for m in private_mentions(path)]
    assert found == []


def defined_tags() -> set[str]:
    """The tags of the table under docs/sources.md's "## Tags": rows `| TAG | what it cites |`."""
    section = SOURCES.read_text(encoding="utf-8").split("\n## Tags\n", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| *`?([A-Z]{2,})`? *\|", section, re.MULTILINE))


def comments(path: Path) -> str:
    return "\n".join(line.split("#", 1)[1] for line in path.read_text(encoding="utf-8").splitlines() if "#" in line)


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios").glob("*.toml")), ids=lambda p: p.stem)
def test_every_tag_a_scenario_cites_is_defined(path):
    cited = {tag for match in CITATION.findall(comments(path)) for tag in match.split("/")}
    assert cited <= defined_tags(), cited - defined_tags()
    if cited:  # a scenario that cites says where the tags are explained
        assert "see docs/sources.md" in path.read_text(encoding="utf-8")


def test_the_sources_page_defines_the_tags_and_its_links_resolve():
    assert defined_tags() == {"DOMAIN", "REF"}
    text = SOURCES.read_text(encoding="utf-8")
    for heading in ("## DOMAIN: practitioners' CRM ROI material", "## REF: published studies"):
        assert heading in text
    for link in re.findall(r"\]\(([^)#]+\.md)", text):
        assert (SOURCES.parent / link).exists(), link
    # the studies the reference classes were fitted to are cited there
    for study in ("Flyvbjerg & Budzier", "McKinsey", "Moløkken-Østvold & Jørgensen", "CIO Insight", "CSO Insights",
                  "Green Book", "Tourniaire", "Forrester 2005", "Nucleus Research", "IDC 2004"):
        assert study in text, study
